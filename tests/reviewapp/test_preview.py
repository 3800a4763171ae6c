"""The browser copy of a clip (reviewapp/review/preview.py): an mp4v clip in, an H.264 file out
that lasts as long; its task writes it beside the processed clip (a real worker too); a preview
that cannot be made costs the clip nothing."""

import time
from datetime import timedelta
from pathlib import Path

import av
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from reviewapp.core import metrics
from reviewapp.core.storage import preview_storage_name
from reviewapp.review import alerts, ingest, preview, processing
from reviewapp.review.demo import photo, write_clip
from reviewapp.review.models import Clip
from tests.factories import ClipFactory


def video_facts(path) -> dict:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [f.time for f in c.decode(s)]
        return {
            "codec": s.codec_context.name,
            "pix_fmt": s.codec_context.pix_fmt,
            "size": (s.codec_context.width, s.codec_context.height),
            "frames": len(frames),
            "first": frames[0],
            "last": frames[-1],
        }


def test_an_mp4v_clip_becomes_an_h264_file_of_the_same_length(video, tmp_path):
    src = video(frames=40, fps=10.0)  # mp4v, 4 s
    assert video_facts(src)["codec"] == "mpeg4"
    assert preview.needs_preview(src)

    result = preview.encode_preview(src, tmp_path / "out.mp4")

    before, after = video_facts(src), video_facts(tmp_path / "out.mp4")
    assert after["codec"] == "h264" and after["pix_fmt"] == "yuv420p"
    assert after["size"] == before["size"] == (result.width, result.height)
    assert abs(after["frames"] - before["frames"]) <= 1
    frame = 1 / 10.0
    assert after["first"] == pytest.approx(before["first"], abs=frame)
    assert after["last"] == pytest.approx(before["last"], abs=frame)
    assert result.duration == pytest.approx(4.0, abs=frame)
    data = (tmp_path / "out.mp4").read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "faststart: the index comes first, playback starts at once"
    assert not preview.needs_preview(tmp_path / "out.mp4")


def test_odd_and_tall_frames_are_scaled_to_even_sides_within_the_height(video, tmp_path):
    src = video(frames=6, size=(321, 241))
    result = preview.encode_preview(src, tmp_path / "out.mp4", max_height=120)
    assert (result.width, result.height) == (160, 120)
    assert video_facts(tmp_path / "out.mp4")["size"] == (160, 120)
    small = preview.encode_preview(src, tmp_path / "small.mp4")  # never scaled up, even sides
    assert (small.width, small.height) == (320, 240)


def test_h264_plays_as_it_is_in_mp4_but_not_in_other_containers(video, tmp_path):
    h264 = tmp_path / "h264.mp4"
    preview.encode_preview(video(frames=6), h264)
    assert not preview.needs_preview(h264)
    as_avi = tmp_path / "h264.avi"
    as_avi.write_bytes(h264.read_bytes())  # browsers go by what they are told it is
    assert preview.needs_preview(as_avi)


def ingest_and_process(camera, path) -> Clip:
    """Ingest, process, and run the preview task's service the worker would run next."""
    clip, created = ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now())
    assert created
    processing.clip_process(clip_id=clip.id)
    preview.clip_preview_make(clip_id=clip.id)
    clip.refresh_from_db()
    return clip


def test_the_worker_writes_the_preview_beside_the_clip(world, tmp_path):
    clip = ingest_and_process(world.cam_a, write_clip(tmp_path / "a.mp4", photo("astronaut"), seconds=3, fps=10))
    assert clip.status == Clip.Status.DONE
    assert clip.preview.name == preview_storage_name(clip.file.name)
    assert clip.preview.name.startswith(clip.file.name.rsplit(".", 1)[0])
    facts = video_facts(default_storage.path(clip.preview.name))
    assert facts["codec"] == "h264" and facts["frames"] == 30

    first = Path(default_storage.path(clip.preview.name)).stat().st_mtime_ns
    assert preview.clip_preview_make(clip_id=clip.id) == clip.preview.name  # a redelivered task: kept
    assert Path(default_storage.path(clip.preview.name)).stat().st_mtime_ns == first

    # Processed again, and its preview lost meanwhile: a new one, under the same name, no copies.
    default_storage.delete(clip.preview.name)
    Clip.objects.filter(id=clip.id).update(status=Clip.Status.QUEUED)
    processing.clip_process(clip_id=clip.id)
    preview.clip_preview_make(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.preview.name == preview_storage_name(clip.file.name)
    assert sorted(p.name for p in Path(default_storage.path(clip.file.name)).parent.iterdir()) == sorted(
        [Path(clip.file.name).name, Path(clip.preview.name).name, Path(clip.detail).name]  # and its detail: one
    )


def test_an_h264_upload_gets_no_preview(world, tmp_path, video):
    h264 = tmp_path / "h264.mp4"
    preview.encode_preview(video(frames=20), h264)
    clip = ingest_and_process(world.cam_a, h264)
    assert clip.status == Clip.Status.DONE and clip.preview.name == ""


def test_a_preview_that_cannot_be_stored_fails_neither_the_clip_nor_its_alert(world, tmp_path, settings):
    world.cam_a.threshold = 0.1  # the astronaut alerts
    world.cam_a.save()
    path = write_clip(tmp_path / "a.mp4", photo("astronaut"), seconds=3, fps=10)
    clip, _ = ingest.clip_ingest(camera=world.cam_a, path=str(path), recorded_at=timezone.now())
    # A real fault: a non-empty folder where the preview must go cannot be replaced by a file.
    blocker = Path(default_storage.path(preview_storage_name(clip.file.name)))
    blocker.mkdir(parents=True)
    (blocker / "x").write_text("in the way")
    failed_before = metrics.PREVIEWS.labels("failed")._value.get()

    processing.clip_process(clip_id=clip.id)
    assert preview.clip_preview_make(clip_id=clip.id) == ""
    assert alerts.alert_send(clip_id=clip.id) is True  # the alert's own step (its outbox row)

    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE and clip.error == ""
    assert clip.alert is True and clip.alert_sent_at is not None
    assert clip.preview.name == ""  # the pages play the original
    assert metrics.PREVIEWS.labels("failed")._value.get() == failed_before + 1


def test_a_clip_not_processed_yet_or_whose_file_is_gone_gets_no_preview(world, tmp_path):
    path = write_clip(tmp_path / "a.mp4", photo("astronaut"), seconds=1, fps=5)
    clip, _ = ingest.clip_ingest(camera=world.cam_a, path=str(path), recorded_at=timezone.now())
    assert preview.clip_preview_make(clip_id=clip.id) == ""  # queued: its result comes first
    processing.clip_process(clip_id=clip.id)
    default_storage.delete(clip.file.name)
    assert preview.clip_preview_make(clip_id=clip.id) == ""
    clip.refresh_from_db()
    assert clip.preview.name == "" and clip.status == Clip.Status.DONE


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_processes_the_clip_then_writes_its_preview(worker, tmp_path, world):
    path = write_clip(tmp_path / "a.mp4", photo("astronaut"), seconds=3, fps=10)
    clip, _ = ingest.clip_ingest(camera=world.cam_a, path=str(path), recorded_at=timezone.now())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not Clip.objects.get(id=clip.id).preview:
        time.sleep(0.3)
        assert worker.poll() is None, "the worker died"
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE, clip.error
    assert clip.preview.name == preview_storage_name(clip.file.name)
    assert video_facts(default_storage.path(clip.preview.name))["codec"] == "h264"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_queue_previews_gives_older_clips_one_through_the_worker(worker, tmp_path, world, settings):
    from io import StringIO

    from django.core.management import call_command

    # A clip processed before previews existed: done, its file stored, no preview (and no task
    # of its own queued: only the command can give it one).
    clip = ClipFactory(camera=world.cam_a)
    target = Path(settings.MEDIA_ROOT) / clip.file.name
    target.parent.mkdir(parents=True)
    write_clip(target, photo("astronaut"), seconds=1, fps=5)
    old = ClipFactory(camera=world.cam_b, recorded_at=timezone.now() - timedelta(days=30))  # out of --days
    out = StringIO()
    call_command("queue_previews", "--days", "7", stdout=out)
    assert out.getvalue().strip() == "queued 1 clip(s) for a preview"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not Clip.objects.get(id=clip.id).preview:
        time.sleep(0.3)
        assert worker.poll() is None, "the worker died"
    assert Clip.objects.get(id=clip.id).preview.name == preview_storage_name(clip.file.name)
    assert Clip.objects.get(id=old.id).preview.name == ""


def test_preview_clips_shown_previews_only_alerts_and_review_items(world, tmp_path, settings):
    settings.PREVIEW_CLIPS = "shown"
    world.cam_a.threshold = 0.99  # nothing alerts
    world.cam_a.review_band = 0.01  # nor comes near
    world.cam_a.save()
    quiet = ingest_and_process(world.cam_a, write_clip(tmp_path / "q.mp4", photo("astronaut"), seconds=1, fps=5))
    assert quiet.alert is False and not hasattr(quiet, "review_item")
    assert quiet.preview.name == ""
    world.cam_a.threshold = 0.1
    world.cam_a.save()
    alert = ingest_and_process(world.cam_a, write_clip(tmp_path / "a.mp4", photo("chelsea"), seconds=1, fps=5))
    assert alert.alert is True and alert.preview.name == preview_storage_name(alert.file.name)
    # An operator's queue_previews asks for the quiet one: it gets one all the same.
    assert preview.clip_preview_make(clip_id=quiet.id, force=True) == preview_storage_name(quiet.file.name)

"""Upload-to-done for a 60 s clip on this machine, in-process (no broker latency):
POST /api/v1/clips/ (check + store), then the pipeline step the worker runs.

    .venv/bin/python benchmarks/bench_pipeline.py [--seconds 60] [--fps 15] [--size 640x480]
        [--detector centernet:320] [--scene walker|pan|busy] [--levers | --levers-only]

Scenes: "walker" is a still camera view with a person crossing for a third of the clip (what
most surveillance minutes look like); "pan" moves every frame (the worst case for skipping
still frames); "busy" is camera-like footage (tests/scenes.py: noise, light drift,
compression) with four people walking through it all the time: every sampled frame changes.
With --levers, the speed levers of issue #13 side by side on the same clip in one run
(benchmarks/pipeline_levers.py): where detect_clip's time goes, and its time against the
sampled decode's for each configuration, with the decision each one gives.
Also prints decode-only time, the naive path (detect every decoded frame, timed
on the first 10 s and scaled), clips per minute per worker, and the process's peak memory.

Runs against a throwaway SQLite database and media folder; prints one line per phase.
"""

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--detector", default=os.environ.get("DETECTOR", ""))
    parser.add_argument("--scene", choices=["walker", "pan", "busy"], default="walker")
    parser.add_argument("--levers", action="store_true", help="also measure the speed levers")
    parser.add_argument("--levers-only", action="store_true", help="only the speed levers")
    parser.add_argument("--keep", type=Path, help="write the scene's clip here, or use it if it is there")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))

    tmp = Path(tempfile.mkdtemp(prefix="vigia-bench-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="reviewapp.project.settings",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp / "media"),
        BROKER_DIR=str(tmp / "broker"),
        AUDIT_SAMPLE_RATE="0",
        STATICFILES_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
    )
    if args.detector:
        os.environ["DETECTOR"] = args.detector
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.test import APIClient

    from inference.video import sample_frames
    from reviewapp.review import (
        demo,
        processing,
    )
    from reviewapp.review.models import Clip

    call_command("migrate", verbosity=0)
    out = io.StringIO()
    call_command("add_customer", "Bench", stdout=out)
    call_command("add_camera", "Bench", "bench-cam", stdout=out)
    out = io.StringIO()
    call_command("add_user", "bench-ingest", "--role", "ingest", stdout=out)
    out.seek(0)
    token = out.read().strip().splitlines()[-1]

    from django.conf import settings

    if args.keep and args.keep.is_file():
        video = args.keep
    elif args.scene == "busy":
        from tests.scenes import write_busy_clip

        video = write_busy_clip(tmp / "clip.mp4", seconds=args.seconds, fps=args.fps)
        width, height = 640, 480
    elif args.scene == "pan":
        video = demo.write_clip(
            tmp / "clip.mp4", demo.photo("astronaut"), seconds=args.seconds, fps=args.fps, size=(width, height)
        )
    else:
        from benchmarks.make_eval_set import walker_clip

        video = tmp / "clip.mp4"
        walker_clip(
            video,
            demo.photo("coffee"),
            demo.photo("astronaut"),
            seconds=args.seconds,
            fps=args.fps,
            person_height=height * 3 // 4,
            enter_s=args.seconds / 3,
            cross_s=args.seconds / 3,
            seed=0,
        )
    if args.keep and video != args.keep:
        shutil.copyfile(video, args.keep)
    print(
        f"clip: {args.scene}, {args.seconds:g} s, {args.fps} fps, {width}x{height}, "
        f"{video.stat().st_size / 1e6:.1f} MB, detector {settings.DETECTOR}, sampling {settings.SAMPLE_FPS:g} fps, "
        f"min change {settings.MIN_CHANGE:g}, torch threads {os.environ.get('TORCH_THREADS', 'default')}"
    )

    if args.levers or args.levers_only:
        from benchmarks.pipeline_levers import levers
        from inference import defaults

        levers(video, defaults)  # the worker's defaults (a camera's own threshold aside)
        if args.levers_only:
            return
    t0 = time.perf_counter()
    decoded = sum(1 for _ in sample_frames(video, fps=1000))
    print(f"decode every frame ({decoded} frames): {time.perf_counter() - t0:.2f} s")

    from inference.detector import load_detector

    t0 = time.perf_counter()
    load_detector(settings.DETECTOR)  # what a worker does once at start (reviewapp.tasks.load_model)
    print(f"model load (once per worker process): {time.perf_counter() - t0:.2f} s")
    if os.environ.get("TORCH_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["TORCH_THREADS"]))

    from django.urls import get_resolver

    _ = get_resolver().url_patterns  # a running server has imported its views (scipy, matplotlib) already
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    t0 = time.perf_counter()
    with open(video, "rb") as f:
        response = client.post(
            "/api/v1/clips/", {"camera": "bench-cam", "file": f, "recorded_at": timezone.now().isoformat()}
        )
    upload_s = time.perf_counter() - t0
    assert response.status_code == 201, response.content
    clip_id = response.json()["id"]
    t0 = time.perf_counter()
    processing.clip_process(clip_id=clip_id)
    process_s = time.perf_counter() - t0
    clip = Clip.objects.get(id=clip_id)
    print(f"upload (validate + store): {upload_s:.2f} s")
    print(
        f"process: {process_s:.2f} s  (sampled {clip.frames_sampled} frames; decode {clip.decode_ms / 1000:.2f} s, "
        f"detect {clip.detect_ms / 1000:.2f} s = {clip.detect_ms / clip.frames_detected:.0f} ms per detected frame)"
    )
    total = upload_s + process_s
    print(
        f"upload to done: {total:.2f} s = {args.seconds / total:.1f}x real time; status {clip.status}, "
        f"score {clip.score:.3f}; {clip.frames_detected} of {clip.frames_sampled} sampled frames detected"
    )
    print(f"clips per minute per worker: {60 / process_s:.1f}")

    from inference.video import sample_frames as frames_of

    detector = load_detector(settings.DETECTOR)
    t0 = time.perf_counter()
    n = 0
    for frame in frames_of(video, fps=1000):
        detector.detect([frame.image])
        n += 1
        if frame.time >= 10:
            break
    naive = (time.perf_counter() - t0) * decoded / n
    print(
        f"naive path (every decoded frame, {n} frames timed, scaled to {decoded}): {naive:.1f} s "
        f"= {naive / process_s:.0f}x the pipeline's time"
    )
    import resource

    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

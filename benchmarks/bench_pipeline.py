"""Upload-to-done for a 60 s clip on this machine, in-process (no broker latency):
POST /api/v1/clips/ (check + store), then the pipeline step the worker runs.

    .venv/bin/python benchmarks/bench_pipeline.py [--seconds 60] [--fps 15] [--size 640x480] [--detector hog]

Runs against a throwaway SQLite database and media folder; prints one line per phase.
"""
import argparse
import os
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
    parser.add_argument("--detector", default=os.environ.get("DETECTOR", "hog"))
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))

    tmp = Path(tempfile.mkdtemp(prefix="vigia-bench-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="reviewapp.settings", DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp / "media"), BROKER_DIR=str(tmp / "broker"), DETECTOR=args.detector, AUDIT_SAMPLE_RATE="0",
        STATICFILES_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.test import APIClient

    from inference.video import sample_frames
    from reviewapp import demo, services
    from reviewapp.models import Clip

    call_command("migrate", verbosity=0)
    call_command("add_customer", "Bench", stdout=open(os.devnull, "w"))
    call_command("add_camera", "Bench", "bench-cam", stdout=open(os.devnull, "w"))
    out = tempfile.SpooledTemporaryFile(mode="w+")
    call_command("add_user", "bench-ingest", "--role", "ingest", stdout=out)
    out.seek(0)
    token = out.read().strip().splitlines()[-1]

    video = demo.write_clip(tmp / "clip.mp4", demo.photo("astronaut"), seconds=args.seconds, fps=args.fps, size=(width, height))
    print(f"clip: {args.seconds:g} s, {args.fps} fps, {width}x{height}, {video.stat().st_size / 1e6:.1f} MB, detector {args.detector}")

    t0 = time.perf_counter()
    decoded = sum(1 for _ in sample_frames(video, fps=1000))
    print(f"decode every frame ({decoded} frames): {time.perf_counter() - t0:.2f} s")

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    t0 = time.perf_counter()
    with open(video, "rb") as f:
        response = client.post("/api/v1/clips/", {"camera": "bench-cam", "file": f, "recorded_at": timezone.now().isoformat()})
    upload_s = time.perf_counter() - t0
    assert response.status_code == 201, response.content
    clip_id = response.json()["id"]
    t0 = time.perf_counter()
    services.clip_process(clip_id=clip_id)
    process_s = time.perf_counter() - t0
    clip = Clip.objects.get(id=clip_id)
    print(f"upload (validate + store): {upload_s:.2f} s")
    print(f"process: {process_s:.2f} s  (sampled {clip.frames_sampled} frames; decode {clip.decode_ms / 1000:.2f} s, "
          f"detect {clip.detect_ms / 1000:.2f} s = {clip.detect_ms / clip.frames_sampled:.0f} ms/frame)")
    total = upload_s + process_s
    print(f"upload to done: {total:.2f} s = {args.seconds / total:.1f}x real time; status {clip.status}, score {clip.score:.3f}")


if __name__ == "__main__":
    main()

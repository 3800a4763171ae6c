"""The labelled-clip CSV read by `inference.evaluate` and `inference.replay`, and how both run the pipeline.

One reader so both tools accept the same files and report a bad row the same way: by its line
number (the header is line 1) and what is wrong with it; the other rows are still used.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from inference import defaults
from inference.detector import Detector
from inference.pipeline import ClipResult, detect_clip
from inference.video import Frame, InvalidVideo, probe

REQUIRED = ("clip_file", "person")


@dataclass
class Row:
    number: int  # line number in the CSV (the header is line 1)
    clip_file: str
    person: bool
    camera: str = ""
    recorded_at: datetime | None = None
    score: float = 0.0
    alert: bool = False
    seconds: float = 0.0


def parse_time(text: str) -> datetime:
    """ISO 8601 (a trailing Z allowed); a time without a zone is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_labels(path: Path, *, required: Sequence[str] = REQUIRED) -> tuple[list[Row], list[str]]:
    """Rows to use and the errors of rows that cannot be. Raises ValueError if the CSV is unusable.

    `camera` and `recorded_at` are read when present; when they are required, an empty camera or
    a recorded_at that is not an ISO 8601 time makes the row an error.
    """
    try:
        f = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115  (closed by the `with` below)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from exc
    with f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(reader.fieldnames or [])})"
            )
        rows, errors = [], []
        for number, record in enumerate(reader, start=2):
            clip_file = (record.get("clip_file") or "").strip()
            person = (record.get("person") or "").strip()
            camera = (record.get("camera") or "").strip()
            recorded = (record.get("recorded_at") or "").strip()
            if not clip_file:
                errors.append(f"row {number}: empty clip_file")
                continue
            if person not in ("0", "1"):
                errors.append(f"row {number} ({clip_file}): person must be 1 or 0, not {person!r}")
                continue
            if "camera" in required and not camera:
                errors.append(f"row {number} ({clip_file}): empty camera")
                continue
            recorded_at = None
            try:
                recorded_at = parse_time(recorded) if recorded else None
            except ValueError:
                if "recorded_at" in required:  # a tool that does not need the time ignores a bad one
                    errors.append(f"row {number} ({clip_file}): recorded_at must be an ISO 8601 time, not {recorded!r}")
                    continue
            if recorded_at is None and "recorded_at" in required:
                errors.append(f"row {number} ({clip_file}): empty recorded_at")
                continue
            rows.append(Row(number, clip_file, person == "1", camera, recorded_at))
    return rows, errors


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that make a tool process clips exactly as the worker does (same env defaults)."""
    parser.add_argument("--threshold", type=float, default=defaults.env_float("DEFAULT_THRESHOLD", defaults.THRESHOLD))
    parser.add_argument("--detector", default=os.environ.get("DETECTOR") or defaults.DETECTOR)
    parser.add_argument("--fps", type=float, default=defaults.env_float("SAMPLE_FPS", defaults.SAMPLE_FPS))
    parser.add_argument(
        "--min-change",
        type=float,
        default=defaults.env_float("MIN_CHANGE", defaults.MIN_CHANGE),
        help="skip frames where less than this share changed (0: detect every sampled frame)",
    )


def check_pipeline_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not 0 <= args.threshold <= 1:
        parser.error("--threshold must be between 0 and 1")
    if args.fps <= 0:
        parser.error("--fps must be positive")


def detect_row(
    csv_dir: Path,
    row: Row,
    detector: Detector,
    *,
    fps: float,
    min_change: float,
    describe_boxes: bool = True,
    describe_min_score: float = 0.0,
    on_frame: Callable[[Frame, list], None] | None = None,
) -> ClipResult:
    """Run the pipeline on one row's clip (path relative to the CSV). Raises InvalidVideo with the reason.

    `describe_boxes` / `describe_min_score`: which boxes get an appearance descriptor (a tool
    without suppression rules needs none)."""
    path = csv_dir / row.clip_file
    if not path.is_file():
        raise InvalidVideo("file not found")
    row.seconds = probe(path).duration
    return detect_clip(
        path,
        detector,
        sample_fps=fps,
        batch_size=defaults.DETECT_BATCH,
        min_change=min_change,
        max_still_s=defaults.MAX_STILL_SECONDS,
        describe_boxes=describe_boxes,
        describe_min_score=describe_min_score,
        on_frame=on_frame,
    )

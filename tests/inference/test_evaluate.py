import json
import subprocess
import sys
from pathlib import Path

from reviewapp.review.demo import photo, write_clip
from tests.videos import write_video

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "inference.evaluate", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc


def test_it_counts_clips_reports_bad_rows_and_ends_with_json(tmp_path):
    (tmp_path / "clips").mkdir()
    write_clip(tmp_path / "clips/astronaut.mp4", photo("astronaut"), seconds=2, fps=5)
    write_video(tmp_path / "clips/empty-scene.mp4", frames=10, fps=5)
    (tmp_path / "clips/broken.mp4").write_bytes(b"not a video")
    (tmp_path / "labels.csv").write_text(
        "clip_file,person,camera\n"
        "clips/astronaut.mp4,1,a\n"
        "clips/empty-scene.mp4,0,a\n"
        "clips/missing.mp4,1,a\n"
        "clips/broken.mp4,0,a\n"
        "clips/astronaut.mp4,yes,a\n"
    )
    proc = run(tmp_path / "labels.csv", "--threshold", "0.5", "--detector", "hog")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["clips"] == 2 and summary["errors"] == 3
    assert summary["tp"] + summary["fn"] == 1 and summary["fp"] + summary["tn"] == 1
    assert summary["threshold"] == 0.5 and summary["detector"].startswith("hog")
    assert summary["seconds_of_video"] == 4.0 and summary["wall_seconds"] > 0
    assert {"precision", "recall"} <= set(summary)
    assert [(c["clip_file"], c["person"]) for c in summary["per_clip"]] == [
        ("clips/astronaut.mp4", 1),
        ("clips/empty-scene.mp4", 0),
    ]
    for c in summary["per_clip"]:
        assert set(c) == {"clip_file", "person", "score", "alert"} and c["alert"] == (c["score"] >= 0.5)
    assert sum(c["alert"] and c["person"] for c in summary["per_clip"]) == summary["tp"]
    assert "row 4 (clips/missing.mp4): file not found" in proc.stderr
    assert "row 5 (clips/broken.mp4)" in proc.stderr
    assert "row 6 (clips/astronaut.mp4): person must be 1 or 0" in proc.stderr


def test_the_decision_follows_the_threshold(tmp_path):
    write_clip(tmp_path / "a.mp4", photo("astronaut"), seconds=2, fps=5)
    (tmp_path / "labels.csv").write_text("clip_file,person\na.mp4,1\n")
    low = json.loads(run(tmp_path / "labels.csv", "--threshold", "0.01").stdout.splitlines()[-1])
    high = json.loads(run(tmp_path / "labels.csv", "--threshold", "1.0").stdout.splitlines()[-1])
    assert (low["tp"], low["recall"]) == (1, 1.0)
    assert (high["fn"], high["recall"]) == (1, 0.0)


def test_a_csv_without_the_required_columns_is_a_clear_error(tmp_path):
    (tmp_path / "labels.csv").write_text("file,label\na.mp4,1\n")
    proc = run(tmp_path / "labels.csv")
    assert proc.returncode == 2
    assert "missing column(s) clip_file, person" in proc.stderr


def test_a_missing_csv_is_a_clear_error(tmp_path):
    proc = run(tmp_path / "nope.csv")
    assert proc.returncode == 2 and "cannot read" in proc.stderr


def test_no_countable_clip_exits_1_with_the_json_still_last(tmp_path):
    (tmp_path / "labels.csv").write_text("clip_file,person\nmissing.mp4,1\n")
    proc = run(tmp_path / "labels.csv")
    assert proc.returncode == 1
    assert json.loads(proc.stdout.splitlines()[-1])["clips"] == 0


def _run_with_a_terminal_for_stderr(*args) -> tuple[int, str, str]:
    """The command with stderr on a pseudo-terminal (a bar is drawn) and stdout on a pipe."""
    import fcntl
    import os
    import pty
    import struct
    import termios
    import threading

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal's size
    proc = subprocess.Popen(
        [sys.executable, "-m", "inference.evaluate", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the other side is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    stdout, _ = proc.communicate(timeout=300)
    reader.join(timeout=30)
    os.close(master)
    return proc.returncode, stdout, b"".join(chunks).decode(errors="replace")


def test_a_bar_on_a_terminal_leaves_stdout_and_its_json_unchanged(tmp_path):
    write_clip(tmp_path / "a.mp4", photo("astronaut"), seconds=2, fps=5)
    write_video(tmp_path / "b.mp4", frames=10, fps=5)
    (tmp_path / "labels.csv").write_text("clip_file,person\na.mp4,1\nb.mp4,0\n")
    args = (tmp_path / "labels.csv", "--threshold", "0.5", "--detector", "hog")
    piped = run(*args)
    code, stdout, terminal = _run_with_a_terminal_for_stderr(*args)
    assert piped.returncode == code == 0
    assert piped.stderr == "", "not a terminal: no bar"
    assert "evaluate:" in terminal and "0/2 [" in terminal and "clip/s" in terminal, terminal
    assert "\r" not in stdout and "evaluate:" not in stdout
    without, with_bar = (json.loads(out.strip().splitlines()[-1]) for out in (piped.stdout, stdout))
    without.pop("wall_seconds"), with_bar.pop("wall_seconds")
    assert with_bar == without
    assert stdout.splitlines()[:-1] == piped.stdout.splitlines()[:-1]

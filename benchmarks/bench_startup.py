"""Start time and peak memory of Vigia's three kinds of process, each started fresh several times.

    python benchmarks/bench_startup.py [--runs 5] [--only web worker beat]

- web: what a gunicorn worker holds before its first request: the WSGI application (settings,
  apps, the admin autodiscovered, the middleware) and the URLconf with every view module it
  names. tests/test_startup.py checks this same load (`web_app()`) for heavy libraries.
- worker: a Celery worker consuming the inference queue, up to "ready", with the detector
  (`DETECTOR`, default centernet:320:onnxruntime) loaded by `worker_process_init`. Run with
  `--pool solo` so that the one process measured is the one holding the model (a prefork child
  is a fork of the same process, plus the detector).
- beat: `celery beat` up to "beat: Starting...".

Start: from spawning the interpreter to the process saying it is ready. Peak RSS: the process's
VmHWM. "torch" says whether libtorch was mapped into the process. Median (min..max) of the runs.
Each process gets its own SQLite database, broker folder and beat schedule, in a temporary folder.
Works on older trees too: the Celery app is `reviewapp.project` when that package exists, else
`reviewapp`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

READY = "vigia-web-ready"
TIMEOUT_S = 300


def web_app(project: str = "reviewapp.project") -> str:
    """The code of what a gunicorn worker has imported before its first request. The URLconf is
    loaded too (a worker loads it at its first request): a view module importing a heavy library
    counts."""
    return f"""
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{project}.settings")
from {project}.wsgi import application  # django.setup() (admin autodiscovered), the middleware
from django.urls import get_resolver
get_resolver().url_patterns  # the URLconf and every view module it names
"""


@dataclass
class Sample:
    seconds: float
    peak_mb: float
    torch: bool


def celery_app() -> str:
    return "reviewapp.project" if (ROOT / "reviewapp" / "project" / "celery.py").is_file() else "reviewapp"


def commands(app: str, tmp: Path) -> dict[str, tuple[list[str], str]]:
    """For each process: the command line and the text its output shows once it is ready."""
    python = sys.executable
    web = web_app(app)
    worker = ["worker", "-Q", "inference", "--pool", "solo", "--loglevel", "INFO"]
    worker += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    beat = ["beat", "--loglevel", "INFO", "--schedule", str(tmp / "celerybeat-schedule")]
    return {
        "web": ([python, "-c", web + f"print({READY!r}, flush=True)\ninput()"], READY),
        "worker": ([python, "-m", "celery", "-A", app, *worker], r"celery@\S+ ready"),
        "beat": ([python, "-m", "celery", "-A", app, *beat], "beat: Starting"),
    }


def environment(tmp: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "BROKER_DIR": str(tmp / "broker"),
        "MEDIA_ROOT": str(tmp / "media"),
        "PYTHONPATH": str(ROOT),
    }
    if env.get("DJANGO_SETTINGS_MODULE", "").startswith("reviewapp"):
        del env["DJANGO_SETTINGS_MODULE"]  # each process sets its own
    return env


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def _maps_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def measure(cmd: list[str], ready: str, env: dict[str, str]) -> Sample:
    """Start `cmd`, wait for `ready` in its output, read its peak RSS, stop it."""
    pattern = re.compile(ready)
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen: list[str] = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            seen.append(line)
            if "unavailable" in line and "detector" in line:
                raise RuntimeError(f"the detector did not load: {line.strip()}")
            if pattern.search(line):
                seconds = time.perf_counter() - start
                return Sample(seconds, _status_mb(proc.pid, "VmHWM"), _maps_torch(proc.pid))
            if time.perf_counter() - start > TIMEOUT_S:
                break
        raise RuntimeError(f"{cmd[-1]!r} never became ready:\n" + "".join(seen[-30:]))
    finally:
        proc.kill()
        proc.wait()


def migrate(app: str, env: dict[str, str]) -> None:
    """Beat's database scheduler reads its tables at start: give it a migrated database."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": f"{app}.settings"},
        check=True,
    )


def _summary(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):6.2f} {unit} ({min(values):.2f}..{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=["web", "worker", "beat"], default=["web", "worker", "beat"])
    args = parser.parse_args()
    app = celery_app()
    print(f"tree {ROOT}, celery app {app}, DETECTOR={os.environ.get('DETECTOR', '(default)')}, {args.runs} runs")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as name:
        tmp = Path(name)
        env = environment(tmp)
        migrate(app, env)
        for kind, (cmd, ready) in commands(app, tmp).items():
            if kind not in args.only:
                continue
            samples = [measure(cmd, ready, env) for _ in range(args.runs)]
            torch = sorted({"yes" if s.torch else "no" for s in samples})
            print(
                f"{kind:7} start {_summary([s.seconds for s in samples], 's')}   "
                f"peak RSS {_summary([s.peak_mb for s in samples], 'MB')}   torch {'/'.join(torch)}",
                flush=True,
            )


if __name__ == "__main__":
    main()

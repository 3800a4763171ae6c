"""Start a real Label Studio server (used by the test session and by benchmarks/bench_sync.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
LS_VENV = ROOT / ".cache" / "label-studio-venv"
LS_TOKEN = "vigia-test-token-0123456789abcdef"
LS_USER = "annotator@vigia.test"


class LabelStudioUnavailable(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_installed() -> float:
    """Run scripts/label_studio.sh if the virtualenv is missing. Returns the seconds it took."""
    if (LS_VENV / "bin" / "label-studio").exists():
        return 0.0
    t0 = time.monotonic()
    done = subprocess.run(["bash", str(ROOT / "scripts" / "label_studio.sh")], capture_output=True, text=True)
    if done.returncode != 0:
        raise LabelStudioUnavailable(f"scripts/label_studio.sh failed: {done.stderr[-2000:]}")
    return time.monotonic() - t0


@contextmanager
def label_studio_server(*, timeout: float = 240.0):
    """Yields (url, seconds it took to start). Fresh data dir, stopped and removed at the end."""
    ensure_installed()
    data_dir = tempfile.mkdtemp(prefix="label-studio-")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE_URL"))},
        "SSRF_PROTECTION_ENABLED": "false",  # it calls our webhook on loopback
        "LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_USERNAME": LS_USER,
        "LABEL_STUDIO_PASSWORD": "vigia-ls-password",
        "LABEL_STUDIO_USER_TOKEN": LS_TOKEN,
        "LABEL_STUDIO_BASE_DATA_DIR": data_dir,
        "DJANGO_DB": "sqlite",
        "LOG_LEVEL": "WARNING",
    }
    log_path = Path(data_dir) / "server.log"
    t0 = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                str(LS_VENV / "bin" / "label-studio"),
                "start",
                "--no-browser",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                data_dir,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise LabelStudioUnavailable(
                        f"Label Studio exited ({proc.returncode}): {log_path.read_text()[-3000:]}"
                    )
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise LabelStudioUnavailable(f"no answer in {timeout:.0f} s: {log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield url, time.monotonic() - t0
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(data_dir, ignore_errors=True)

"""What can be checked of the container set-up without a Docker engine."""

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def test_compose_services_build_from_files_that_exist_and_run_our_apps():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker-inference", "worker", "worker-exports", "beat", "db", "redis"} <= set(services)
    for name, service in services.items():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
    assert services["worker-inference"]["command"] == ["worker-inference"]
    assert (ROOT / "infra/example.env").is_file()


def test_compose_publishes_nothing_but_the_web_app_beyond_loopback():
    """Prometheus, Grafana and Label Studio have no (or a weak) login of their own: the host's
    loopback only. The workers' metrics port is never published (the compose network only)."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, service in services.items():
        for port in service.get("ports", []):
            if name != "web":
                assert str(port).startswith("127.0.0.1:"), (name, port)
    assert all("9100" not in str(p) for s in services.values() for p in s.get("ports", []))


def locked(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """requirements/<name>.txt (uv's output) as {package: (version, hashes)}."""
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    package = None
    for line in (ROOT / "requirements" / f"{name}.txt").read_text().splitlines():
        line = line.strip().removesuffix("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash=sha256:"):
            version, hashes = pins[package]
            pins[package] = (version, hashes | {line.removeprefix("--hash=sha256:")})
        else:
            package, version = line.split("==")
            pins[package] = (version, frozenset())
    return pins


def canonical(requirement: str) -> str:
    return canonicalize_name(Requirement(requirement).name)


TEST_TOOLS = {"pytest", "pytest-django", "factory-boy", "moto", "playwright", "cfn-lint", "ruff", "import-linter"}


def test_the_image_installs_the_runtime_lock_only():
    dockerfile = (ROOT / "infra/Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert any("--require-hashes" in line and "-r requirements/torch.txt" in line for line in installs)
    assert any("--require-hashes" in line and "-r requirements/runtime.txt" in line for line in installs)
    assert "requirements/test.txt" not in dockerfile
    assert "scripts/fetch_models.sh" in dockerfile  # the model is in the image, fetched at build time
    # A checkout's virtualenv (the test tools) and its .env never reach the build context.
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", ".cache", "tests"} <= set(ignored)


def test_the_locks_pin_every_package_with_hashes_and_the_cpu_torch():
    for name in ("runtime", "test", "torch"):
        pins = locked(name)
        assert pins and all(version and hashes for version, hashes in pins.values()), name
        assert pins["torch"][0] == "2.13.0+cpu", name  # PyPI's 2.13.0 is the CUDA build
    runtime, test = locked("runtime"), locked("test")
    assert not TEST_TOOLS & set(runtime), "the production image would carry test tools"
    assert set(test) >= TEST_TOOLS
    # The test environment runs exactly the production pins (make lock constrains one by the other).
    assert {package: test[package] for package in runtime} == runtime
    assert {package: runtime[package] for package in locked("torch")} == locked("torch")


def test_the_locks_are_made_from_pyproject():
    """A dependency added to pyproject.toml without `make lock` fails here, not in production."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime, test = locked("runtime"), locked("test")
    assert {canonical(r) for r in project["project"]["dependencies"]} <= set(runtime)
    assert {canonical(r) for r in project["dependency-groups"]["test"]} <= set(test)


def test_the_vigia_command_runs_the_operator_commands():
    vigia = Path(sys.executable).with_name("vigia")
    assert vigia.is_file(), "the project is not installed in this virtualenv: make install"
    proc = subprocess.run([str(vigia), "help", "add_camera"], capture_output=True, text=True, timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("usage: vigia add_camera")


def test_the_entrypoint_refuses_an_unknown_role():
    proc = subprocess.run(["bash", str(ROOT / "infra/entrypoint.sh"), "nonsense"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown role 'nonsense'" in proc.stderr


def test_the_entrypoint_knows_every_role_compose_uses():
    entrypoint = (ROOT / "infra/entrypoint.sh").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in compose["services"].values():
        if service.get("build") and service.get("command"):
            assert f"  {service['command'][0]})" in entrypoint


def test_exports_go_to_their_own_queue_and_every_queue_has_a_worker():
    # A training-set export runs for hours: on the default queue it would hold the processes the
    # sync ticks and scheduled checks need.
    from reviewapp.project.celery import app

    route = app.amqp.router.route({}, "labeling.tasks.run_export")
    assert route["queue"].name == "exports"
    assert app.amqp.router.route({}, "labeling.tasks.sync_pending")["queue"].name == "default"
    assert app.amqp.router.route({}, "reviewapp.tasks.process_clip")["queue"].name == "inference"
    entrypoint = (ROOT / "infra/entrypoint.sh").read_text()
    for queue in ("inference", "default", "exports"):
        assert f"-Q {queue} " in entrypoint
        assert queue in (ROOT / "scripts/run.sh").read_text().split("-Q ")[1].split()[0].split(",")

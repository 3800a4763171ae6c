"""What can be checked of the container set-up without a Docker engine."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_services_build_from_files_that_exist_and_run_our_apps():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker-inference", "worker", "beat", "db", "redis"} <= set(services)
    for name, service in services.items():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        command = service.get("command") or []
        if "celery" in command:
            assert command[command.index("-A") + 1] == "reviewapp"
    inference_queue = services["worker-inference"]["command"]
    assert inference_queue[inference_queue.index("-Q") + 1] == "inference"
    assert (ROOT / "infra/example.env").is_file()


def test_the_image_installs_the_pinned_requirements():
    dockerfile = (ROOT / "infra/Dockerfile").read_text()
    assert "-r requirements.in -c requirements.lock" in dockerfile
    assert "torch==2.13.0" in (ROOT / "requirements.lock").read_text()

"""What can be checked of the container set-up without a Docker engine."""

from pathlib import Path

import yaml

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


def test_the_image_installs_the_pinned_requirements():
    dockerfile = (ROOT / "infra/Dockerfile").read_text()
    assert "-r requirements.in -c requirements.lock" in dockerfile
    assert "scripts/fetch_models.sh" in dockerfile  # the model is in the image, fetched at build time
    assert "torch==2.13.0" in (ROOT / "requirements.lock").read_text()


def test_the_entrypoint_refuses_an_unknown_role():
    import subprocess

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

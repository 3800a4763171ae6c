"""Production refuses to start on the development SECRET_KEY, example.env's placeholders or a
short METRICS_TOKEN: `check --deploy --fail-level WARNING`, which the entrypoint runs."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from reviewapp.core.checks import DEVELOPMENT_SECRET_KEY, is_placeholder

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"SECRET_KEY": secrets.token_urlsafe(50), "METRICS_TOKEN": secrets.token_urlsafe(32)}


def deploy_check():
    call_command("check", deploy=True, fail_level="WARNING")


def test_a_production_set_up_passes(settings):
    settings.SECRET_KEY, settings.METRICS_TOKEN, settings.DEBUG = GOOD["SECRET_KEY"], GOOD["METRICS_TOKEN"], False
    deploy_check()


@pytest.mark.parametrize(
    "name, value, check_id",
    [
        ("SECRET_KEY", DEVELOPMENT_SECRET_KEY, "vigia.E001"),
        ("SECRET_KEY", "change-me-to-a-long-random-string", "vigia.E002"),
        ("METRICS_TOKEN", "change-me-to-another-long-random-string", "vigia.E002"),
        ("LABEL_STUDIO_WEBHOOK_SECRET", "a-long-random-string", "vigia.E002"),
        ("METRICS_TOKEN", "short-token", "vigia.E003"),
    ],
)
def test_it_refuses_a_development_or_placeholder_secret(settings, name, value, check_id):
    settings.SECRET_KEY, settings.METRICS_TOKEN, settings.DEBUG = GOOD["SECRET_KEY"], GOOD["METRICS_TOKEN"], False
    setattr(settings, name, value)
    with pytest.raises(SystemCheckError, match=re.escape(check_id)):
        deploy_check()


def test_every_secret_placeholder_of_example_env_is_refused():
    values = dict(
        line.lstrip("# ").split("=", 1)
        for line in (ROOT / "infra/example.env").read_text().splitlines()
        if "=" in line and line.lstrip("# ").split("=", 1)[0].isupper()
    )
    for name in ("SECRET_KEY", "METRICS_TOKEN", "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_WEBHOOK_SECRET"):
        value = values[name].split()[0]
        assert is_placeholder(value), (name, value)


def _entrypoint_check(env):
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "METRICS_TOKEN", "DEBUG")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, "DEBUG": "0", **env},
        capture_output=True,
        text=True,
    )


def test_the_entrypoint_runs_the_check_and_it_fails_on_the_development_key():
    assert "check --deploy --fail-level WARNING" in (ROOT / "infra/entrypoint.sh").read_text()
    refused = _entrypoint_check({})
    assert refused.returncode != 0 and "vigia.E001" in refused.stderr
    ok = _entrypoint_check(GOOD)
    assert ok.returncode == 0, ok.stderr


# The roles that never load Django (no settings, no SECRET_KEY, no database): the detector
# training run (inference/training/role.py, a SageMaker training job's entry point).
NO_DJANGO_ROLES = {"train"}


def test_the_entrypoint_checks_before_every_role():
    text = (ROOT / "infra/entrypoint.sh").read_text()
    checked = set(re.search(r"^  ([\w|-]+)\) deploy_check ;;$", text, re.M).group(1).split("|"))
    roles = set(re.findall(r"^  ([\w-]+)\)$", text, re.M))
    assert roles and roles - NO_DJANGO_ROLES == checked
    assert "django" not in (ROOT / "inference/training/role.py").read_text().lower()

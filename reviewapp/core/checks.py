"""Deploy checks (`manage.py check --deploy`, run by the image's entrypoint with
`--fail-level WARNING`): production never starts with the development SECRET_KEY, a
placeholder of infra/example.env, or a METRICS_TOKEN short enough to guess."""

from django.conf import settings
from django.core import checks

DEVELOPMENT_SECRET_KEY = "django-insecure-development-key-set-SECRET_KEY"
# The values infra/example.env ships with (tests/reviewapp/test_deploy_checks.py keeps the two in step).
PLACEHOLDER_PREFIXES = ("change-me", "a-long-random-string", "...")
SECRETS = ("SECRET_KEY", "METRICS_TOKEN", "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_WEBHOOK_SECRET")
MIN_TOKEN_LENGTH = 32


def is_placeholder(value: str) -> bool:
    return value.strip().lower().startswith(PLACEHOLDER_PREFIXES)


@checks.register(checks.Tags.security, deploy=True)
def check_secrets(app_configs=None, **kwargs):
    errors = []
    if settings.SECRET_KEY == DEVELOPMENT_SECRET_KEY or settings.SECRET_KEY.startswith("django-insecure"):
        errors.append(
            checks.Error(
                "SECRET_KEY is the development key", hint="set SECRET_KEY to a long random string", id="vigia.E001"
            )
        )
    for name in SECRETS:
        value = getattr(settings, name, "") or ""
        if value and is_placeholder(value):
            errors.append(
                checks.Error(
                    f"{name} is the placeholder of infra/example.env",
                    hint=f"set {name} to a long random string",
                    id="vigia.E002",
                )
            )
    token = settings.METRICS_TOKEN
    if token and len(token) < MIN_TOKEN_LENGTH:
        errors.append(
            checks.Error(
                f"METRICS_TOKEN has {len(token)} characters; at least {MIN_TOKEN_LENGTH} are needed",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                id="vigia.E003",
            )
        )
    return errors

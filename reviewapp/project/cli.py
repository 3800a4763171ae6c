"""`vigia <command> [...]`: the console script (pyproject.toml) for the operator commands, the same
as `python manage.py <command> [...]` but from any directory (`vigia add_camera ACME gate-1`)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

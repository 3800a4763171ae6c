"""The admin of every feature (Django loads `<app>.admin`)."""
from reviewapp.review import admin as _review_admin  # noqa: F401  (registers its models)
from reviewapp.tuning import admin as _tuning_admin  # noqa: F401  (registers its models)

"""The admin of every feature: Django loads `<app>.admin`, and importing a feature's admin
module registers its models."""

from reviewapp.review import admin as review_admin
from reviewapp.tuning import admin as tuning_admin

__all__ = ["review_admin", "tuning_admin"]

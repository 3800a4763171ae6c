"""The admin of labeling's features: the sync's rows and inbound annotations, export runs and
the near-threshold extraction (importing a module registers its models)."""

from labeling.export import admin as export_admin
from labeling.sync import admin as sync_admin

__all__ = ["export_admin", "sync_admin"]

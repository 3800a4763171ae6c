"""Fine-tuning the detector from the reviewed clips' training-set exports (issue #15): the Django
side of `inference.training` (which export, which held-out clips, the settings, the weekly job)."""

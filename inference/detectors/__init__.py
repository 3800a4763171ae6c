"""Detector backends. Each module registers itself with `inference.detector.register`."""

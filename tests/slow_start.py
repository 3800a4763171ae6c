"""`python -m tests.slow_start <celery args>`: Celery's main, with a detector that takes
SLOW_DETECTOR_LOAD_SECONDS to load once per process — what a torch detector does on a loaded
2-core machine (5.4 s measured, #12), made certain for the fault tests."""

import os
import sys
import time

import inference.detector as detector

_real_load = detector.load_detector
_loaded: set[str] = set()


def _slow_load(spec: str):
    if spec not in _loaded:  # per process: a forked pool process starts with the parent's (empty) set
        time.sleep(float(os.environ.get("SLOW_DETECTOR_LOAD_SECONDS", "6")))
        _loaded.add(spec)
    return _real_load(spec)


# Before Celery imports the tasks: they (and the processing) take load_detector from here.
detector.load_detector = _slow_load

if __name__ == "__main__":
    from celery.__main__ import main

    sys.exit(main())

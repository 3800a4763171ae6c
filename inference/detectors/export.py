"""Write, ahead of time, the files a detector spec runs from: the ONNX file of an onnxruntime
spec (see `inference.detectors.graph_runtime` for how it is named). A file already there is left
as it is, so running it again costs about a second.

    python -m inference.detectors.export [SPEC ...] [--calibration DIR]
        (default: $DETECTOR, else the default detector; an int8 spec such as
        centernet:320:onnxruntime-int8 is calibrated on the clips in DIR)

scripts/fetch_models.sh runs it (so `make install` does), and so does the image build, for the
default detector; a worker with another onnxruntime spec needs it run for that spec.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from inference import defaults
from inference.detector import DetectorUnavailable, export_detector


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("specs", nargs="*", metavar="SPEC", help="e.g. centernet:320:onnxruntime")
    parser.add_argument("--calibration", metavar="DIR", help="clips to calibrate an int8 export on")
    args = parser.parse_args(argv)
    if args.calibration:
        os.environ["VIGIA_CALIBRATION_DIR"] = args.calibration
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for spec in args.specs or [os.environ.get("DETECTOR") or defaults.DETECTOR]:
        try:
            paths = export_detector(spec)
        except DetectorUnavailable as exc:
            print(f"{spec}: {exc}", file=sys.stderr)
            return 1
        for path in paths:
            print(f"{spec}: {path}")
        if not paths:
            print(f"{spec}: nothing to write ahead of time")
    return 0


if __name__ == "__main__":
    sys.exit(main())

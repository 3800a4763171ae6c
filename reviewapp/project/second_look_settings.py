"""The second look at uncertain clips (#14, inference/second_look.py), star-imported by
settings.py (the table of every variable is docs/operations.md). Off unless SECOND_LOOK names a
detector: a clip whose first-pass score lies in its camera's review band is decided again on its
deciding frames by that detector (docs/detector.md#the-second-look-at-uncertain-clips)."""

import environ
from django.core.exceptions import ImproperlyConfigured

_env = environ.Env()

# A detector spec (centernet:512:onnxruntime, models:/..., or tiles:2:centernet:320:onnxruntime); "" off.
SECOND_LOOK = _env.str("SECOND_LOOK", default="")
SECOND_LOOK_FRAMES = _env.int("SECOND_LOOK_FRAMES", default=3)  # the deciding frames it looks at again

if SECOND_LOOK:  # checked here, at start: a typo must not wait for the first uncertain clip
    from inference.detector import DetectorUnavailable, plugins
    from inference.second_look import parse_spec

    try:
        _name = parse_spec(SECOND_LOOK)[0].split(":", 1)[0]
        if _name not in plugins():
            raise DetectorUnavailable(f"unknown detector {_name!r} (known: {', '.join(sorted(plugins()))})")
    except (ValueError, DetectorUnavailable) as _exc:
        raise ImproperlyConfigured(f"SECOND_LOOK={SECOND_LOOK!r}: {_exc}") from None
    if SECOND_LOOK_FRAMES < 1:
        raise ImproperlyConfigured(f"SECOND_LOOK_FRAMES={SECOND_LOOK_FRAMES}: at least 1")

"""The detector as a plain library: video decoding, detector backends, the clip decision.

Nothing here imports Django, so the same code runs in a worker, a notebook or a benchmark.
"""

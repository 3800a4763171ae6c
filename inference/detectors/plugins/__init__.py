"""The detector plugins, one backend per module, each a class decorated with
`inference.detector.register`. Found by the registry with pkgutil: a new module here is a new
backend. A plugin never imports another plugin, and imports its runtime (torch, onnxruntime)
only when a detector is built."""

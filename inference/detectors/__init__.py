"""Detector backends. The backends themselves are the plugins in `plugins/` (the registry in
`inference.detector` finds them); the modules here are what several plugins share: the npm
package's paths and box mapping (`human_models`), how its TF.js networks run and their ONNX
files (`graph_runtime`), the contract of the company's own model file (`contract`), and the
command that writes the ONNX files ahead of time (`export`)."""

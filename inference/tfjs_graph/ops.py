"""The ops: each TF op of the graph as a torch call, on values that remember their layout.

Each op takes (run, node, *input values) and returns a value or a tuple of values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from inference.tfjs_graph.blocks import conv2d_tf, pad_same, resize_bilinear_legacy
from inference.tfjs_graph.loading import GraphNode, TfjsGraphError

# ---------------------------------------------------------------------------------------------
# Values flowing through the graph


@dataclass
class Value:
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

    def op(run: Run, node: GraphNode, a: Value, b: Value) -> Value:
        x, y = a.t, b.t
        if a.nchw != b.nchw:
            if a.nchw:
                y = _to_nchw_broadcast(y)
            else:
                x = _to_nchw_broadcast(x)
        nchw = a.nchw or b.nchw
        if inplace and node.donate:
            if 0 in node.donate and _can_overwrite(x, y):
                return Value(getattr(x, inplace)(y), nchw)
            if commutative and 1 in node.donate and _can_overwrite(y, x):
                return Value(getattr(y, inplace)(x), nchw)
        return Value(fn(x, y), nchw)

    return op


_TensorFn = Callable[[torch.Tensor], torch.Tensor]


def _unary(fn: _TensorFn, inplace: _TensorFn | None = None):
    """An elementwise op; `inplace` (its in-place twin) is used on a donated input."""

    def op(run: Run, node: GraphNode, a: Value) -> Value:
        if inplace is not None and 0 in node.donate:
            return Value(inplace(a.t), a.nchw)
        return Value(fn(a.t), a.nchw)

    return op


class Graph(Protocol):
    """What the ops read of the graph that runs them (a `TfjsGraph`)."""

    baked_size: tuple[int, int]

    def prepared_conv(self, node: GraphNode) -> tuple[torch.Tensor, torch.Tensor | None, int]: ...

    def constant(self, name: str) -> Value: ...


@dataclass
class Run:
    """What the ops of one forward call may look at (kept off the module: thread-safe)."""

    graph: Graph
    input_size: tuple[int, int]  # spatial size of the first input in this call


def _axis(v: Value, axis: int) -> int:
    rank = v.t.dim()
    axis = axis + rank if axis < 0 else axis
    return _NHWC_TO_NCHW_AXIS[axis] if v.nchw else axis


def _nchw(x: Value) -> torch.Tensor:
    """A 4-D activation that TF sees as NHWC, as an NCHW torch tensor (a view, no copy)."""
    if x.t.dim() != 4:
        raise TfjsGraphError(f"expected a 4-D activation, got shape {tuple(x.t.shape)}")
    return x.t if x.nchw else x.t.permute(0, 3, 1, 2)


def _ints(v: Value) -> list[int]:
    """Axes, sizes and the like. Constants are read from Python (no `.tolist()`, which would
    stop `torch.compile` tracing); values computed in the graph fall back to the tensor."""
    if v.ints is not None:
        return list(v.ints)
    return [int(i) for i in v.t.reshape(-1).tolist()]


# ---------------------------------------------------------------------------------------------
# Ops. Each takes (graph, node, *input values) and returns a value or a tuple of values.


def _op_conv(run: Run, node: GraphNode, x: Value, *rest: Value) -> Value:
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
    return Value(out, True)


def _op_mean(run: Run, node: GraphNode, x: Value, axes: Value) -> Value:
    dims = [_axis(x, a) for a in _ints(axes)]
    keep = node.attr.get("keep_dims", False)
    if x.nchw and not keep:
        return Value(x.tf().mean(dim=[a if a >= 0 else a + 4 for a in _ints(axes)]), False)
    return Value(x.t.mean(dim=dims, keepdim=keep), x.nchw)


def _op_resize_bilinear(run: Run, node: GraphNode, x: Value, size: Value) -> Value:
    if node.attr.get("align_corners"):
        raise TfjsGraphError(f"{node.name}: ResizeBilinear with align_corners is not supported")
    baked_h, baked_w = _ints(size)
    baked, size = run.graph.baked_size, run.input_size
    out_h, out_w = round(baked_h * size[0] / baked[0]), round(baked_w * size[1] / baked[1])
    if node.attr.get("half_pixel_centers"):
        # TF2's half-pixel mode is exactly torch's align_corners=False bilinear.
        out = F.interpolate(_nchw(x), size=(out_h, out_w), mode="bilinear", align_corners=False)
        return Value(out.contiguous(memory_format=torch.channels_last), True)
    return Value(resize_bilinear_legacy(_nchw(x), (out_h, out_w)), True)


def _op_concat(run: Run, node: GraphNode, *args: Value) -> Value:
    *parts, axis_v = args
    axis = _ints(axis_v)[0]
    if all(p.nchw for p in parts):
        return Value(torch.cat([p.t for p in parts], dim=_axis(parts[0], axis)), True)
    return Value(torch.cat([p.tf() for p in parts], dim=axis), False)


def _op_maxpool(run: Run, node: GraphNode, x: Value) -> Value:
    if node.attr.get("data_format", "NHWC") != "NHWC":
        raise TfjsGraphError(f"{node.name}: only NHWC MaxPool is supported")
    ksize, strides = node.attr["ksize"][1:3], node.attr["strides"][1:3]
    t = _nchw(x)
    if node.attr["padding"] == "SAME":
        t, pad = pad_same(t, ksize, strides, (1, 1), value=-math.inf)
    else:
        pad = (0, 0)
    return Value(F.max_pool2d(t, tuple(ksize), tuple(strides), pad), True)


def _op_reshape(run: Run, node: GraphNode, x: Value, shape: Value) -> Value:
    return Value(x.tf().reshape(_ints(shape)), False)


def _op_expand_dims(run: Run, node: GraphNode, x: Value, dim: Value) -> Value:
    return Value(x.tf().unsqueeze(_ints(dim)[0]), False)


def _op_cast(run: Run, node: GraphNode, x: Value) -> Value:
    dst = {"DT_FLOAT": torch.float32, "DT_INT32": torch.int64, "DT_BOOL": torch.bool}
    return Value(x.t.to(dst[node.attr["DstT"]]), x.nchw)


def _op_topk(run: Run, node: GraphNode, x: Value, k: Value) -> tuple[Value, Value]:
    values, indices = torch.topk(x.tf(), _ints(k)[0], dim=-1, sorted=True)
    return Value(values), Value(indices)


def _op_gather(run: Run, node: GraphNode, x: Value, idx: Value, axis: Value) -> Value:
    if node.attr.get("batch_dims", 0):
        raise TfjsGraphError(f"{node.name}: GatherV2 with batch_dims is not supported")
    params, a = x.tf(), _ints(axis)[0]
    a = a + params.dim() if a < 0 else a
    flat = idx.t.reshape(-1).long()
    out = params.index_select(a, flat)
    shape = list(params.shape[:a]) + list(idx.t.shape) + list(params.shape[a + 1 :])
    return Value(out.reshape(shape), False)


def _op_strided_slice(run: Run, node: GraphNode, x: Value, begin: Value, end: Value, strides: Value) -> Value:
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
    return Value(t[tuple(index)], False)


def _op_transpose(run: Run, node: GraphNode, x: Value, perm: Value) -> Value:
    order = _ints(perm)
    if x.nchw and order == [0, 3, 1, 2]:
        return Value(x.t, False)  # TF's NHWC -> NCHW of what is kept NCHW here: nothing to do
    return Value(x.tf().permute(order), False)


def _op_pad(run: Run, node: GraphNode, x: Value, paddings: Value, value: Value | None = None) -> Value:
    pads = _ints(paddings)
    t = x.tf()
    if len(pads) != 2 * t.dim():
        raise TfjsGraphError(f"{node.name}: {len(pads) // 2} paddings for a {t.dim()}-D tensor")
    flat: list[int] = []
    for d in reversed(range(t.dim())):  # F.pad wants the last dimension first
        flat += [pads[2 * d], pads[2 * d + 1]]
    fill = float(value.t.reshape(-1)[0]) if value is not None else 0.0
    return Value(F.pad(t, flat, value=fill), False)


def _op_split_v(run: Run, node: GraphNode, x: Value, sizes: Value, axis: Value) -> tuple[Value, ...]:
    t = x.tf()
    a = _ints(axis)[0]
    a = a + t.dim() if a < 0 else a
    parts = _ints(sizes)
    if parts.count(-1) == 1:
        parts[parts.index(-1)] = t.shape[a] - (sum(parts) + 1)
    return tuple(Value(p, False) for p in torch.split(t, parts, dim=a))


def _op_sparse_to_dense(
    run: Run, node: GraphNode, indices: Value, shape: Value, values: Value, default: Value
) -> Value:
    out = torch.full(_ints(shape), default.t.reshape(-1)[0].item(), dtype=values.t.dtype)
    idx = indices.t.long().reshape(-1, out.dim()) if out.dim() else indices.t.long()
    if idx.numel():
        vals = values.t.reshape(-1)
        out[tuple(idx.T)] = vals if vals.numel() == len(idx) else vals.expand(len(idx))
    return Value(out, False)


def _op_leaky_relu(run: Run, node: GraphNode, x: Value) -> Value:
    alpha = node.attr.get("alpha", 0.2)
    if 0 in node.donate:
        return Value(F.leaky_relu_(x.t, alpha), x.nchw)
    return Value(F.leaky_relu(x.t, alpha), x.nchw)


def _op_const(run: Run, node: GraphNode) -> Value:
    return run.graph.constant(node.name)


def _op_placeholder(run: Run, node: GraphNode) -> Value:
    raise TfjsGraphError(f"no value fed for input {node.name}")


def _relu6(t: torch.Tensor) -> torch.Tensor:
    return F.hardtanh(t, 0.0, 6.0)


OPS: dict[str, Callable[..., Any]] = {
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
FRESH_OUTPUT_OPS = {
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
ALIASING_OPS = {"Identity", "Reshape", "ExpandDims", "StridedSlice", "Cast", "Transpose", "SplitV"}


def supported_ops() -> list[str]:
    return sorted(OPS)

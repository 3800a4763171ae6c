"""Building blocks with TF semantics, in torch (public so tests can check them against naive
reference code): SAME padding, TF conv filters, TF1's legacy bilinear resize."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from inference.tfjs_graph.loading import TfjsGraphError


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF `SAME` padding (before, after) for one spatial dimension: the odd pixel goes after."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def pad_same(
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
        x, pad = pad_same(x, kernel, stride, dilation)
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

"""CenterNet's losses (Zhou et al., "Objects as Points", 2019) on the person heat map and wh."""

from __future__ import annotations

import torch

EPS = 1e-4
ALPHA, BETA = 2.0, 4.0
SIZE_WEIGHT = 0.1  # CenterNet's weight of the size term against the heat map's


def focal_loss(pred: torch.Tensor, target: torch.Tensor, hard: torch.Tensor) -> torch.Tensor:
    """Penalty-reduced pixel-wise focal loss, plus the hard negatives' term. `pred` holds
    probabilities (the graph's heat map is after its sigmoid), `target` the Gaussian-splatted
    centres, `hard` a weight per cell, > 0 inside a confirmed false positive's box. The focal
    loss's (pred ** alpha) factor all but ignores a background cell at 0.15, which is exactly a
    recurring false alert under a low camera threshold: inside those boxes the background term is
    plain cross-entropy, weighted by `hard`, without that factor. Normalised by the number of
    centres (at least 1, so an image without a person still pushes its background down)."""
    pred = pred.clamp(EPS, 1 - EPS)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(pred) * (1 - pred) ** ALPHA * pos
    neg_loss = torch.log(1 - pred) * (pred**ALPHA + hard) * (1 - target) ** BETA * neg
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def side_loss(wh: torch.Tensor, index: torch.Tensor, sides: torch.Tensor, stride: float) -> torch.Tensor:
    """L1 on the four side distances at the centre cells only, in heat-map cells (CenterNet's
    unit: input pixels / stride). `wh` (N, h, w, 4) in input pixels, `index` (K, 3) image, row,
    col; `sides` (K, 4) in input pixels. This graph's sides carry the sub-cell offset too."""
    if index.numel() == 0:
        return wh.sum() * 0.0
    picked = wh[index[:, 0], index[:, 1], index[:, 2]]
    return torch.abs(picked - sides).mean() / stride


def centernet_loss(heat, wh, target_heat, weight, index, sides, stride) -> tuple[torch.Tensor, dict[str, float]]:
    hm = focal_loss(heat, target_heat, weight)
    size = side_loss(wh, index, sides, stride)
    total = hm + SIZE_WEIGHT * size
    return total, {"heatmap_loss": float(hm.detach()), "size_loss": float(size.detach())}

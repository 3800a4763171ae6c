"""The CenterNet graph as a trainable torch module, and its export as a contract ONNX file.

`TrainableCenterNet` is the TF.js graph interpreter (`inference.tfjs_graph.TfjsGraph`) with every
convolution's weight and bias turned into an `nn.Parameter`, so autograd trains the very graph the
detector runs (no re-implemented architecture, no mapping by name). The interpreter overwrites
dying activations in place to save allocations; autograd needs them, so that is switched off here.
The heads: `tower_0/keypoints` (80 class heat maps after the sigmoid, 1/4 of the input) and
`tower_0/wh` (distances from a cell's centre point to the box's left, top, right, bottom sides, in
input pixels: this graph has no separate offset head, the sub-cell offset is inside those four).

`ContractModel` wraps it for export: input float32 [N, 3, S, S] RGB 0..1 (the contract of
`inference.detectors.contract`), output [N, K, 6] rows (x1, y1, x2, y2, score, 0) in input pixels,
the person peaks decoded inside the graph (3x3 max-pool peaks, top K), rows under MIN_SCORE zeroed
(padding). So a fine-tuned model is an ordinary contract ONNX file, also runnable as `onnx:PATH@S`.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from inference.tfjs_graph import TfjsGraph
from inference.tfjs_graph.loading import GraphNode

HEATMAP_OUTPUT = "tower_0/keypoints"
SIZE_OUTPUT = "tower_0/wh"
PERSON_CLASS = 0
MIN_SCORE = 0.05  # as the centernet plugin: lower peaks are not reported
MAX_DETECTIONS = 100
INPUT_NAME = "images"


class TrainableCenterNet(TfjsGraph):
    """The graph with trainable convolutions. Call with NHWC float32 RGB 0..255; returns the
    person heat map (N, h, w) and wh (N, h, w, 4)."""

    def __init__(self, model_json: str | Path) -> None:
        super().__init__(model_json, outputs=(HEATMAP_OUTPUT, SIZE_OUTPUT))
        for node in self.nodes:
            node.donate = frozenset()  # no in-place reuse: autograd keeps the activations
        self.conv_weights = nn.ParameterList()
        self.conv_biases = nn.ParameterList()
        self._slot: dict[str, tuple[int, int | None, int]] = {}
        for name, (weight, bias, groups) in self._convs.items():
            self.conv_weights.append(nn.Parameter(weight.clone()))
            b_index = None
            if bias is not None:
                self.conv_biases.append(nn.Parameter(bias.clone()))
                b_index = len(self.conv_biases) - 1
            self._slot[name] = (len(self.conv_weights) - 1, b_index, groups)
        self._convs = {}
        self._weights = {}  # the TF-layout copies: the parameters are the weights now

    def prepared_conv(self, node: GraphNode) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        w, b, groups = self._slot[node.name]
        return self.conv_weights[w], (self.conv_biases[b] if b is not None else None), groups

    def heads(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heat, wh = super().forward(batch)
        return heat[..., PERSON_CLASS], wh

    def head_parameters(self) -> list[nn.Parameter]:
        """The parameters of the last convolutions (those feeding the two heads directly)."""
        names = [n.name for n in self._plan if n.name in self._slot]
        last = [n for n in names if "CenternetHead" in n] or names[-4:]
        out = []
        for name in last:
            w, b, _ = self._slot[name]
            out.append(self.conv_weights[w])
            if b is not None:
                out.append(self.conv_biases[b])
        return out


def load_state(model: TrainableCenterNet, path: Path) -> TrainableCenterNet:
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


class ContractModel(nn.Module):
    """The fine-tuned network behind the contract: [N, 3, S, S] RGB 0..1 -> [N, K, 6]."""

    def __init__(self, net: TrainableCenterNet, k: int = MAX_DETECTIONS) -> None:
        super().__init__()
        self.net = net
        self.k = k

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images * 255.0).permute(0, 2, 3, 1).contiguous()
        heat, wh = self.net.heads(x)
        n, h, w = heat.shape
        stride = images.shape[3] / w
        pooled = F.max_pool2d(heat.unsqueeze(1), 3, 1, 1).squeeze(1)
        peaks = torch.where(heat == pooled, heat, torch.zeros_like(heat)).reshape(n, -1)
        scores, index = torch.topk(peaks, min(self.k, h * w), dim=1)
        rows = torch.div(index, w, rounding_mode="floor").float()
        cols = (index % w).float()
        dist = torch.gather(wh.reshape(n, -1, 4), 1, index.unsqueeze(-1).expand(-1, -1, 4))
        cx, cy = cols * stride, rows * stride
        boxes = torch.stack([cx - dist[..., 0], cy - dist[..., 1], cx + dist[..., 2], cy + dist[..., 3]], dim=-1)
        scores = torch.where(scores >= MIN_SCORE, scores, torch.zeros_like(scores))
        return torch.cat([boxes, scores.unsqueeze(-1), torch.zeros_like(scores).unsqueeze(-1)], dim=-1)


def export_onnx(net: TrainableCenterNet, path: Path, input_size: int) -> Path:
    """Write the contract ONNX file of `net` at this input size (dynamic batch), atomically."""
    net.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated, still the one for this graph
        torch.onnx.export(
            ContractModel(net),
            (torch.zeros(1, 3, input_size, input_size),),
            buffer,
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=["detections"],
            dynamic_axes={INPUT_NAME: {0: "n"}, "detections": {0: "n"}},
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_bytes(buffer.getvalue())
    os.replace(part, path)
    return path

"""The training loop: CenterNet's losses on the reviewed frames, held-out people's recall each epoch.

Anti-forgetting: before any step, the original network's own confident boxes on frames reviewers
confirmed as people are added to those frames' targets (`targets.kept_boxes`), so a person the
model found and nobody labelled is not taught as background. Each epoch ends with the held-out
frames scored: the share of held-out people still found at the threshold (frame recall) and the
best score left on the held-out confirmed false positives.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from inference.progress import bar
from inference.training.data import Sample, to_batch
from inference.training.losses import centernet_loss
from inference.training.model import ContractModel, TrainableCenterNet
from inference.training.targets import iou, kept_boxes, make_targets


@dataclass(frozen=True)
class TrainConfig:
    input_size: int = 320
    epochs: int = 2
    lr: float = 1e-4
    batch_size: int = 2
    seed: int = 0
    threshold: float = 0.25  # the camera threshold people must stay above
    keep_score: float = 0.3  # the original model's boxes kept as targets from this score
    hard_weight: float = 1.0
    layers: str = "all"  # or "head": only the CenterNet head's convolutions

    def as_params(self) -> dict:
        return dict(self.__dict__)


@dataclass
class EpochResult:
    epoch: int
    loss: float
    heatmap_loss: float
    size_loss: float
    seconds: float
    holdout: dict


@dataclass
class TrainResult:
    epochs: list[EpochResult] = field(default_factory=list)
    before: dict = field(default_factory=dict)  # held-out frame metrics of the original network


def detections(net: TrainableCenterNet, images: list[np.ndarray], input_size: int) -> list[np.ndarray]:
    """(K, 5) x1, y1, x2, y2, score in each frame's pixels, score > 0 only."""
    net.eval()
    out = []
    with torch.no_grad():
        for image in images:
            batch = torch.from_numpy(to_batch([image], input_size)).permute(0, 3, 1, 2) / 255.0
            rows = ContractModel(net)(batch)[0].numpy()
            rows = rows[rows[:, 4] > 0]
            h, w = image.shape[:2]
            rows[:, [0, 2]] *= w / input_size
            rows[:, [1, 3]] *= h / input_size
            out.append(rows[:, :5])
    return out


def holdout_metrics(net: TrainableCenterNet, samples: list[Sample], cfg: TrainConfig) -> dict:
    """People found at the threshold on held-out frames, and the best score on their false boxes."""
    found = people = 0
    false_best = 0.0
    for sample, dets in zip(samples, detections(net, [s.image() for s in samples], cfg.input_size)):
        strong = [d for d in dets if d[4] >= cfg.threshold]
        for box in sample.boxes:
            people += 1
            found += any(iou(box, d) >= 0.3 for d in strong)
        for box in sample.false_boxes:
            false_best = max([false_best, *(float(d[4]) for d in dets if iou(box, d) >= 0.3)])
    return {
        "frame_recall": found / people if people else None,
        "people": people,
        "false_box_best_score": round(false_best, 4),
    }


def prepare(net: TrainableCenterNet, samples: list[Sample], cfg: TrainConfig) -> None:
    """Each sample's training boxes: its labels plus, on confirmed frames, the original's own."""
    positives = [s for s in samples if s.klass == "positive"]
    for s in samples:
        s.kept = [list(b) for b in s.boxes]
    for s, dets in zip(positives, detections(net, [s.image() for s in positives], cfg.input_size)):
        s.kept = kept_boxes(s.boxes, dets.tolist(), s.false_boxes, min_score=cfg.keep_score)


def _step_inputs(batch: list[Sample], cfg: TrainConfig, grid: int):
    images = [s.image() for s in batch]
    x = torch.from_numpy(to_batch(images, cfg.input_size))
    heats, weights, index, sides = [], [], [], []
    for i, (s, image) in enumerate(zip(batch, images)):
        frame = (image.shape[1], image.shape[0])
        t = make_targets(
            s.kept, s.false_boxes, frame_size=frame, input_size=cfg.input_size, grid=grid, hard_weight=cfg.hard_weight
        )
        heats.append(t.heat)
        weights.append(t.weight)
        index += [(i, r, c) for r, c in t.centres]
        sides.append(t.sides)
    return (
        x,
        torch.from_numpy(np.stack(heats)),
        torch.from_numpy(np.stack(weights)),
        torch.tensor(index, dtype=torch.long).reshape(-1, 3),
        torch.from_numpy(np.concatenate(sides)),
    )


def train(
    net: TrainableCenterNet,
    train_set: list[Sample],
    held_out: list[Sample],
    cfg: TrainConfig,
    on_epoch: Callable[[EpochResult], None] | None = None,
) -> TrainResult:
    """Fine-tune `net` in place on `train_set`; `on_epoch` sees every epoch's result."""
    if not train_set:
        raise ValueError("no training image")
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    grid = cfg.input_size // 4
    stride = cfg.input_size / grid
    result = TrainResult(before=holdout_metrics(net, held_out, cfg))
    prepare(net, train_set, cfg)
    params = net.head_parameters() if cfg.layers == "head" else list(net.parameters())
    optimiser = torch.optim.Adam(params, lr=cfg.lr)
    order = list(train_set)
    epochs = bar(range(1, cfg.epochs + 1), desc="train", unit="epoch")
    for epoch in epochs:
        started = time.perf_counter()
        net.train()
        rng.shuffle(order)
        totals = np.zeros(3)
        steps = 0
        for start in range(0, len(order), cfg.batch_size):
            x, heat_t, weight, index, sides = _step_inputs(order[start : start + cfg.batch_size], cfg, grid)
            heat, wh = net.heads(x)
            loss, parts = centernet_loss(heat, wh, heat_t, weight, index, sides, stride)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            totals += (loss.item(), parts["heatmap_loss"], parts["size_loss"])
            steps += 1
        seconds = time.perf_counter() - started
        mean = totals / max(steps, 1)
        ep = EpochResult(epoch, *map(float, mean), seconds, holdout_metrics(net, held_out, cfg))
        result.epochs.append(ep)
        epochs.set_postfix(loss=f"{ep.loss:.4f}", refresh=False)
        if on_epoch is not None:
            on_epoch(ep)
    net.eval()
    return result

"""The verifier: a second opinion on the detector's person boxes, from a small torch classifier of
their crops (person vs. not), trained from reviewed clips — confirmed people against the false
positives reviewers tagged.

Where it sits: a clip that would alert (a box at or above the camera's threshold, not suppressed)
alerts only if the verifier accepts at least one of those boxes. It never makes a clip alert that
the detector did not, so it can only remove alerts; whether it removes false ones without losing
people is what `promotion_decision` checks before a model goes to the pipeline.

Labels come per clip, not per box, so the training examples are built with care
(`build_examples`): every box of a no-person clip is a negative; a box of a person clip is a
positive unless it sits where the same camera had a negative that looks the same (the poster on
the wall is in the person clips too). Boxes below `min_score` are left out: low peaks are
background texture, not what the verifier will be asked about.

A model file is a torch file of the weights and a JSON header (architecture, crop size, operating
threshold), loaded with `weights_only` so a file cannot run code. No Django here.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from inference import defaults
from inference.decision import BoxRef
from inference.detector import Box
from inference.thresholds import Counts

CROP_SIZE = 64  # square side in pixels; a person crop is squeezed, consistently in training and use
CONTEXT = 0.1  # share of the box's size added on each side: the edges say a lot (a frame, a wall)
MIN_SCORE = defaults.VERIFIER_MIN_SCORE
MIN_PER_CLASS = 8  # fewer examples of either class: no model is trained


def crop(image: np.ndarray, box: Box | Sequence[float], size: int = CROP_SIZE) -> np.ndarray:
    """The box with a little context, resized to size x size (BGR uint8). Edges are replicated."""
    x1, y1, x2, y2 = box.as_list() if isinstance(box, Box) else box
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    x1, x2 = x1 - CONTEXT * bw, x2 + CONTEXT * bw
    y1, y2 = y1 - CONTEXT * bh, y2 + CONTEXT * bh
    h, w = image.shape[:2]
    xs, ys = int(np.floor(x1)), int(np.floor(y1))
    xe, ye = max(int(np.ceil(x2)), xs + 1), max(int(np.ceil(y2)), ys + 1)
    # The part inside the frame, then the rest filled by replicating its edges.
    cx1, cy1, cx2, cy2 = min(max(xs, 0), w - 1), min(max(ys, 0), h - 1), max(min(xe, w), 1), max(min(ye, h), 1)
    cx2, cy2 = max(cx2, cx1 + 1), max(cy2, cy1 + 1)
    inside = image[cy1:cy2, cx1:cx2]
    inside = cv2.copyMakeBorder(
        inside, max(0, cy1 - ys), max(0, ye - cy2), max(0, cx1 - xs), max(0, xe - cx2), cv2.BORDER_REPLICATE
    )
    return cv2.resize(inside, (size, size), interpolation=cv2.INTER_AREA)


class VerifierNet(nn.Module):
    """Four strided conv blocks (64 -> 4 px) and a linear head: ~60k parameters. Strided convs,
    not max-pooling: 0.3 against 1.6-2.2 ms a crop for a training step on this 2-core machine."""

    def __init__(self) -> None:
        super().__init__()

        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())

        self.features = nn.Sequential(block(3, 16), block(16, 32), block(32, 48), block(48, 64))
        self.head = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [N, 3, S, S] float 0..1 RGB -> logits [N]
        return self.head(self.features(x).mean(dim=(2, 3))).squeeze(1)


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """[N, S, S, 3] BGR uint8 -> [N, 3, S, S] float RGB 0..1."""
    return torch.from_numpy(np.ascontiguousarray(crops[..., ::-1])).permute(0, 3, 1, 2).float() / 255.0


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    # What changes between two clips of one camera: left-right, light, a few pixels of box jitter.
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    gain = 0.75 + 0.5 * torch.rand(n, 1, 1, 1, generator=generator)
    x = (x * gain).clamp(0, 1)
    shift = int(torch.randint(-3, 4, (1,), generator=generator))
    return torch.roll(x, shifts=(shift, -shift), dims=(2, 3))


@dataclass
class TrainResult:
    model: VerifierNet
    threshold: float
    losses: list[float]
    train_accuracy: float


def train(
    crops: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 20,
    lr: float = 3e-3,
    batch_size: int = 32,
    seed: int = 0,
    target_recall: float = 0.99,
) -> TrainResult:
    """Train a VerifierNet on crops ([N, S, S, 3] BGR uint8) and labels (1 person, 0 not).

    Classes are balanced by weighting the loss. The operating threshold is the highest that keeps
    `target_recall` of the training people, capped at 0.5: the verifier exists to drop false
    alerts, never people, so it leans to accepting.
    """
    labels = np.asarray(labels, dtype=np.float32)
    positives, negatives = int(labels.sum()), int(len(labels) - labels.sum())
    if positives < MIN_PER_CLASS or negatives < MIN_PER_CLASS:
        raise ValueError(
            f"too few examples to train: {positives} person, {negatives} not (need {MIN_PER_CLASS} of each)"
        )
    # Convolutions this small gain nothing from intra-op threads and lose to their synchronisation
    # (measured 0.3 ms a crop on 1 thread, 2.3 on 2, on a busy 2-core machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(
            crops,
            labels,
            positives,
            negatives,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            target_recall=target_recall,
        )
    finally:
        torch.set_num_threads(threads)


def _train(crops, labels, positives, negatives, *, epochs, lr, batch_size, seed, target_recall) -> TrainResult:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x, y = to_tensor(crops), torch.from_numpy(labels)
    model = VerifierNet()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(negatives / positives))
    losses = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        total = 0.0
        for start in range(0, len(y), batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2:  # batch norm needs two
                continue
            optimiser.zero_grad()
            loss = loss_fn(model(_augment(x[idx], generator)), y[idx])
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(y))
    model.eval()
    scores = predict(model, crops)
    pos_scores = np.sort(scores[labels == 1])
    keep = pos_scores[int(np.floor((1 - target_recall) * len(pos_scores)))]
    threshold = float(min(0.5, keep))
    accuracy = float(((scores >= threshold) == (labels == 1)).mean())
    return TrainResult(model, threshold, losses, accuracy)


@torch.no_grad()
def predict(model: nn.Module, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Person probability of each crop."""
    if len(crops) == 0:
        return np.zeros(0, np.float32)
    out = []
    for start in range(0, len(crops), batch_size):
        out.append(torch.sigmoid(model(to_tensor(crops[start : start + batch_size]))).numpy())
    return np.concatenate(out).astype(np.float32)


class Verifier:
    """A loaded model, its operating threshold and the version the pipeline records on each clip."""

    def __init__(self, model: nn.Module, *, threshold: float, version: str, crop_size: int = CROP_SIZE) -> None:
        self.model = model.eval()
        self.threshold = threshold
        self.version = version
        self.crop_size = crop_size

    def scores(self, crops: np.ndarray) -> np.ndarray:
        return predict(self.model, crops)

    def accepts(self, crops: np.ndarray) -> bool:
        """True when at least one crop is a person to the verifier (no crop: nothing to veto)."""
        return len(crops) == 0 or bool((self.scores(crops) >= self.threshold).any())


class CropVeto:
    """A verifier as `inference.decision.decide_clip`'s veto, on crops of a clip's boxes keyed by
    (position of the detected frame, box index): the worker cuts them while decoding, the replay
    and the held-out evaluation keep them. A box without a crop cannot be asked about; with no
    crop at all the verifier vetoes nothing."""

    def __init__(self, model: Verifier, crops: dict[tuple[int, int], np.ndarray] | None = None) -> None:
        self.model = model
        self.crops: dict[tuple[int, int], np.ndarray] = crops if crops is not None else {}
        self.checked = False  # the model was asked about at least one crop

    def accepts(self, candidates: Sequence[BoxRef]) -> bool:
        crops = [self.crops[(c.frame, c.box_index)] for c in candidates if (c.frame, c.box_index) in self.crops]
        if not crops:
            return True
        self.checked = True
        return self.model.accepts(np.stack(crops))


ARCHITECTURE = 1  # bump when VerifierNet changes: an older file is then refused, not misread


def save(result: TrainResult, path: Path, *, version: str = "") -> Path:
    """Write the weights and the header (architecture, crop size, threshold) in one torch file.
    The version defaults to the file's content hash when loaded."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "architecture": ARCHITECTURE,
        "threshold": result.threshold,
        "crop_size": CROP_SIZE,
        "context": CONTEXT,
        "version": version,
    }
    tmp = path.with_suffix(".tmp")
    torch.save({"meta": json.dumps(meta), "state_dict": result.model.state_dict()}, tmp)
    tmp.replace(path)  # a crash mid-write never leaves a complete-looking model
    return path


def load(path: Path, *, version: str | None = None) -> Verifier:
    # weights_only: a model file from a registry must not be able to run code when loaded.
    data = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or "meta" not in data:
        raise ValueError(f"{path} is not a Vigia verifier (no header)")
    meta = json.loads(data["meta"])
    if meta.get("architecture") != ARCHITECTURE or meta.get("crop_size") != CROP_SIZE:
        raise ValueError(
            f"{path} is a verifier of architecture {meta.get('architecture')} / crop "
            f"{meta.get('crop_size')}; this code runs {ARCHITECTURE} / {CROP_SIZE}"
        )
    model = VerifierNet()
    model.load_state_dict(data["state_dict"])
    if not version:
        version = meta.get("version") or "file:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    return Verifier(model, threshold=float(meta["threshold"]), version=version)


class VerifierUnavailable(RuntimeError):
    """The configured verifier cannot be loaded (missing file, unknown registry version)."""


_LOADED: dict[str, Verifier] = {}
_LOCK = threading.Lock()


def load_verifier(spec: str, *, tracking_uri: str = "") -> Verifier | None:
    """The verifier named by `spec`, loaded once per process; None when spec is empty (off).

    spec is a file path, or a registry reference `models:/NAME/VERSION` or `models:/NAME@ALIAS`
    resolved in the MLflow store at `tracking_uri`. An alias is resolved once, when the process
    loads it: promoting another version takes effect as workers restart.
    """
    if not spec:
        return None
    with _LOCK:
        if spec not in _LOADED:
            try:
                if spec.startswith("models:/"):
                    from inference import tracking

                    path, version = tracking.fetch_model(spec, tracking_uri=tracking_uri)
                    _LOADED[spec] = load(path, version=version)
                else:
                    _LOADED[spec] = load(Path(spec))
            except VerifierUnavailable:
                raise
            except Exception as exc:
                raise VerifierUnavailable(f"verifier {spec!r} cannot be loaded: {exc}") from exc
        return _LOADED[spec]


# ------------------------------------------------------------------------ training examples


@dataclass
class Example:
    """One detector box of a reviewed clip."""

    camera: str
    clip: str  # the clip's id or file, for grouping
    person_clip: bool  # the clip's verdict
    norm_box: tuple[float, float, float, float]
    descriptor: np.ndarray
    crop: np.ndarray
    score: float


def build_examples(examples: Sequence[Example], *, min_score: float = MIN_SCORE) -> tuple[np.ndarray, np.ndarray]:
    """Crops and labels from reviewed clips' boxes (see the module docstring for the rules)."""
    from inference import suppression

    kept = [e for e in examples if e.score >= min_score]
    negatives_by_camera: dict[str, list[suppression.Rule]] = {}
    for e in kept:
        if not e.person_clip:
            negatives_by_camera.setdefault(e.camera, []).append(
                suppression.Rule(id=e.clip, box=e.norm_box, descriptor=e.descriptor)
            )
    crops, labels = [], []
    for e in kept:
        if e.person_clip:
            lookalikes = negatives_by_camera.get(e.camera, [])
            if any(r.matches(e.norm_box, e.descriptor) for r in lookalikes):
                continue  # the known false positive in a clip that also has a person: not a person example
            labels.append(1)
        else:
            labels.append(0)
        crops.append(e.crop)
    if not crops:
        return np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8), np.zeros(0, np.int64)
    return np.stack(crops), np.asarray(labels, np.int64)


# ------------------------------------------------------------------------------- promotion


def promotion_decision(baseline: Counts, candidate: Counts) -> tuple[bool, str]:
    """Promote only when the candidate gives fewer false alerts at equal (or better) recall.

    `baseline` and `candidate` are clip counts of the same clips: the pipeline as it is (no
    verifier, or the current one) and with the candidate.
    """
    if candidate.tp + candidate.fn != baseline.tp + baseline.fn:
        return False, "the two evaluations are not of the same clips"
    if baseline.clips == 0:
        return False, "no clips to compare on"
    if candidate.tp < baseline.tp:
        return False, f"loses people: {baseline.tp - candidate.tp} more missed ({candidate.fn} vs {baseline.fn})"
    if candidate.fp >= baseline.fp:
        return False, f"no fewer false alerts ({candidate.fp} vs {baseline.fp})"
    return True, f"{baseline.fp - candidate.fp} fewer false alerts ({candidate.fp} vs {baseline.fp}) at equal recall"

"""Reading a TF.js graph model: the JSON topology, its nodes and attributes, and the weights.

Needs no torch: numpy arrays come out.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


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


def attr_value(raw: dict[str, Any]) -> Any:
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


def parse_node(raw: dict[str, Any]) -> GraphNode:
    inputs = [i for i in raw.get("input", []) if not i.startswith("^")]
    attr = {k: attr_value(v) for k, v in raw.get("attr", {}).items()}
    return GraphNode(raw["name"], raw["op"], inputs, attr)


def read_model(path: Path) -> dict[str, Any]:
    """The parsed model.json of a TF.js graph model."""
    try:
        model = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TfjsGraphError(f"cannot read TF.js model {path}: {exc}") from exc
    if model.get("format") != "graph-model":
        raise TfjsGraphError(f"{path} is not a TF.js graph model")
    return model

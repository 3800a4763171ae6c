"""The graph: the nodes the requested outputs need, scheduled once, executed per call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inference.tfjs_graph.blocks import tf_filter_to_torch
from inference.tfjs_graph.loading import GraphNode, TfjsGraphError, load_weights, parse_node, read_model
from inference.tfjs_graph.ops import ALIASING_OPS, FRESH_OUTPUT_OPS, OPS, Run, Value


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
        model = read_model(path)
        self.nodes = [parse_node(n) for n in model["modelTopology"]["node"]]
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
        unsupported = sorted({n.op for n in self._plan} - set(OPS))
        if unsupported:
            raise TfjsGraphError(f"unsupported ops in {path.name}: {', '.join(unsupported)}")
        self._weights = {
            k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in load_weights(model, path.parent).items()
        }
        self._constants: dict[str, Value] = {}
        for name, t in self._weights.items():
            if t.dtype == torch.int32:  # torch integer maths and indexing want int64
                self._constants[name] = Value(t.long(), False, tuple(int(i) for i in t.reshape(-1).tolist()))
            else:
                self._constants[name] = Value(t, False)
        self._convs: dict[str, tuple[torch.Tensor, torch.Tensor | None, int]] = {}
        for node in self._plan:
            if "Conv" in node.op:
                self._convs[node.name] = self._prepare_conv(node)

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
        aliased = {ref.split(":")[0] for n in self._plan if n.op in ALIASING_OPS for ref in n.inputs}
        dying = {name: step for step, names in self._release_after.items() for name in names}
        for step, node in enumerate(self._plan):
            donate = set()
            for pos, ref in enumerate(node.inputs):
                name = ref.split(":")[0]
                if (
                    dying.get(name) == step
                    and producer.get(name) in FRESH_OUTPUT_OPS
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

    def constant(self, name: str) -> Value:
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
            run = Run(self, tuple(int(d) for d in (first.shape[2:4] if nchw_input else first.shape[1:3])))
        else:
            run = Run(self, self.baked_size)
        values: dict[str, Value | tuple[Value, ...]] = {}
        for name, tensor in zip(self.input_names, inputs):
            if tensor.dim() == 4 and not nchw_input:
                # NHWC contiguous viewed as NCHW is exactly channels_last memory: no copy.
                values[name] = Value(tensor.permute(0, 3, 1, 2), True)
            else:
                values[name] = Value(tensor, False)
        for step, node in enumerate(self._plan):
            if node.name not in values:
                args = [self._lookup(values, i) for i in node.inputs]
                values[node.name] = OPS[node.op](run, node, *args)
            # Drop activations nobody reads any more, so their memory is reused at once.
            for name in self._release_after.get(step, ()):
                del values[name]
        return tuple(self._lookup(values, o).tf() for o in self.output_names)

    @staticmethod
    def _lookup(values: dict[str, Any], ref: str) -> Value:
        name, _, index = ref.partition(":")
        value = values[name]
        if isinstance(value, tuple):
            return value[int(index or 0)]
        return value

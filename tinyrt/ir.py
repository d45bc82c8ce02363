"""The graph IR: tensors, ops and a graph, as plain dataclasses.

Everything downstream (quantizer, planner, codegen) takes a ``Graph`` and returns plain data or a
new ``Graph``. Tensors are referred to by their index in ``Graph.tensors``; an absent optional
input (a conv without bias) is ``-1``, as in the TFLite schema. Layout is NHWC throughout, and
conv weights keep TFLite's layouts: CONV_2D ``[O, KH, KW, I]``, DEPTHWISE_CONV_2D ``[1, KH, KW, O]``,
FULLY_CONNECTED ``[O, I]``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

DTYPE_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "float16": 2, "int32": 4, "float32": 4,
               "int64": 8, "bool": 1}
DTYPE_CTYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "float16": "uint16_t",
                "int32": "int32_t", "float32": "float", "int64": "int64_t", "bool": "uint8_t"}


@dataclass
class Quant:
    """Affine quantisation: real = scale * (q - zero_point), per tensor or along ``axis``."""
    scale: np.ndarray        # float32, shape [1] or [channels]
    zero_point: np.ndarray   # int64, same shape as scale
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    def __eq__(self, other):
        return (isinstance(other, Quant) and self.axis == other.axis
                and np.array_equal(self.scale, other.scale)
                and np.array_equal(self.zero_point, other.zero_point))


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quant | None = None
    data: np.ndarray | None = None   # constant tensors (weights, biases, shape operands)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * DTYPE_BYTES[self.dtype]

    def __eq__(self, other):
        if not isinstance(other, Tensor):
            return False
        same_data = (self.data is None and other.data is None) or (
            self.data is not None and other.data is not None
            and self.data.dtype == other.data.dtype and np.array_equal(self.data, other.data))
        return (self.name == other.name and tuple(self.shape) == tuple(other.shape)
                and self.dtype == other.dtype and self.quant == other.quant and same_data)


@dataclass
class Op:
    type: str                 # TFLite builtin name, e.g. "CONV_2D"
    inputs: list[int]
    outputs: list[int]
    attrs: dict = field(default_factory=dict)
    name: str = ""


@dataclass
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    name: str = "model"

    def t(self, index: int) -> Tensor:
        return self.tensors[index]

    def producers(self) -> dict[int, int]:
        """Tensor index -> index of the op that writes it."""
        return {out: i for i, op in enumerate(self.ops) for out in op.outputs}

    def consumers(self) -> dict[int, list[int]]:
        """Tensor index -> indices of the ops that read it, in op order."""
        result: dict[int, list[int]] = {}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                if t >= 0:
                    result.setdefault(t, []).append(i)
        return result

    def replace(self, **changes) -> "Graph":
        return dataclasses.replace(self, **changes)


def verify(graph: Graph) -> None:
    """Check structural invariants; raises AssertionError naming the first broken one.

    Run after every pass in tests: indices in range, every activation written exactly once
    before it is read, constants never written, graph outputs produced.
    """
    n = len(graph.tensors)
    written: set[int] = set(graph.inputs)
    for i, op in enumerate(graph.ops):
        where = f"op {i} ({op.type})"
        for t in op.inputs:
            assert -1 <= t < n, f"{where}: input index {t} out of range"
            if t >= 0 and not graph.tensors[t].is_const:
                assert t in written, f"{where}: reads tensor {t} before it is written"
        for t in op.outputs:
            assert 0 <= t < n, f"{where}: output index {t} out of range"
            assert not graph.tensors[t].is_const, f"{where}: writes constant tensor {t}"
            assert t not in written, f"{where}: tensor {t} written twice"
            written.add(t)
    for t in graph.outputs:
        assert t in written or graph.tensors[t].is_const, f"graph output {t} is never written"


def dump(graph: Graph) -> str:
    """A human-readable listing of the graph, one line per op."""
    def desc(i: int) -> str:
        if i < 0:
            return "-"
        t = graph.tensors[i]
        kind = "const " if t.is_const else ""
        return f"%{i}:{kind}{t.dtype}{list(t.shape)}"
    lines = [f"graph {graph.name}: inputs {[desc(i) for i in graph.inputs]}"]
    for i, op in enumerate(graph.ops):
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(op.attrs.items()))
        lines.append(f"  {i:3d} {op.type:<24} {', '.join(desc(t) for t in op.inputs)}"
                     f" -> {', '.join(desc(t) for t in op.outputs)}  {attrs}")
    lines.append(f"outputs {[desc(i) for i in graph.outputs]}")
    return "\n".join(lines)

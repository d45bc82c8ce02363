"""Build small models in code: the op-conformance tests describe each case with this, and
tinyrt/mobilenet.py builds the MobileNetV2-style benchmark models with it."""
from __future__ import annotations

import numpy as np

from tinyrt.ir import Graph, Op, Quant, Tensor


class ModelBuilder:
    def __init__(self, name: str = "case"):
        self.name = name
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.inputs: list[int] = []

    def _add(self, t: Tensor) -> int:
        self.tensors.append(t)
        return len(self.tensors) - 1

    @staticmethod
    def _quant(scale, zero_point, axis=0):
        if scale is None:
            return None
        scale = np.atleast_1d(np.asarray(scale, np.float32))
        zp = np.atleast_1d(np.asarray(zero_point, np.int64))
        if zp.size == 1 and scale.size > 1:
            zp = np.repeat(zp, scale.size)
        return Quant(scale, zp, axis)

    def input(self, shape, dtype="int8", scale=None, zero_point=0) -> int:
        i = self._add(Tensor(f"input_{len(self.inputs)}", tuple(shape), dtype,
                             self._quant(scale, zero_point)))
        self.inputs.append(i)
        return i

    def tensor(self, shape, dtype="int8", scale=None, zero_point=0) -> int:
        return self._add(Tensor(f"t{len(self.tensors)}", tuple(shape), dtype,
                                self._quant(scale, zero_point)))

    def const(self, data, dtype, scale=None, zero_point=0, axis=0) -> int:
        arr = np.asarray(data).astype(dtype)
        return self._add(Tensor(f"c{len(self.tensors)}", tuple(arr.shape), dtype,
                                self._quant(scale, zero_point, axis), data=arr))

    def op(self, op_type: str, inputs, outputs, **attrs) -> None:
        self.ops.append(Op(op_type, list(inputs), list(outputs), attrs, name=f"{op_type.lower()}_{len(self.ops)}"))

    def graph(self, outputs) -> Graph:
        return Graph(list(self.tensors), list(self.ops), list(self.inputs), list(outputs), self.name)

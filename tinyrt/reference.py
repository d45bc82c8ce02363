"""tflite-runtime with the reference op resolver: the ground truth every output is compared to."""
from __future__ import annotations

import numpy as np

from .errors import TinyrtError


def _interpreter(model: bytes | str, preserve: bool = False):
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType
    except ImportError:
        raise TinyrtError("tflite-runtime is not installed; it is the reference tinyrt checks against",
                          ["make setup", "pip install 'tflite-runtime==2.14.0' 'numpy<2'"]) from None
    kwargs = {"model_content": model} if isinstance(model, (bytes, bytearray)) else {"model_path": model}
    try:
        it = Interpreter(**kwargs, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=preserve)
        it.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise TinyrtError(f"tflite-runtime cannot load the model: {str(e).strip()}") from None
    return it


class Reference:
    """Run a model in tflite-runtime. Inputs and outputs are lists of numpy arrays in the
    subgraph's input/output order."""

    def __init__(self, model: bytes | str, preserve_all_tensors: bool = False):
        self.it = _interpreter(model, preserve_all_tensors)
        self.inputs = self.it.get_input_details()
        self.outputs = self.it.get_output_details()

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        for d, x in zip(self.inputs, inputs):
            self.it.set_tensor(d["index"], np.asarray(x, dtype=d["dtype"]).reshape(d["shape"]))
        self.it.invoke()
        return [self.it.get_tensor(d["index"]).copy() for d in self.outputs]

    def tensor(self, index: int) -> np.ndarray:
        return self.it.get_tensor(index).copy()


def random_inputs(graph, rng: np.random.Generator) -> list[np.ndarray]:
    """One random input set for ``graph``: integers over the dtype's full range, floats over the
    range the input quantisation covers (or [-1, 1])."""
    result = []
    for t in graph.inputs:
        tensor = graph.t(t)
        if tensor.dtype in ("int8", "uint8", "int16"):
            info = np.iinfo(tensor.dtype)
            result.append(rng.integers(info.min, info.max + 1, size=tensor.shape,
                                       dtype=np.int64).astype(tensor.dtype))
        elif tensor.dtype == "float32":
            lo, hi = -1.0, 1.0
            if tensor.quant is not None:
                s, z = float(tensor.quant.scale[0]), int(tensor.quant.zero_point[0])
                lo, hi = s * (-128 - z), s * (127 - z)
            result.append(rng.uniform(lo, hi, size=tensor.shape).astype(np.float32))
        else:
            raise TinyrtError(f"cannot generate random inputs of dtype {tensor.dtype}")
    return result

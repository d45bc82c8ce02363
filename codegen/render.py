"""Turn a ``Lowered`` model into C files through the Jinja templates in templates/.

Everything the templates print is prepared here as plain values: C literals for numbers, the
arena offset and C type of each pointer argument, one comment line per layer.
"""
from __future__ import annotations

import math
import re

import jinja2
import numpy as np

from tinyrt.ir import DTYPE_CTYPES
from tinyrt.ops import Buf, Const, Region, Scratch

from tinyrt.regions import locate

from .render_stage import stage_context
from tinyrt.paths import data_dir

_NP_CTYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.uint8): "uint8_t",
              np.dtype(np.int16): "int16_t", np.dtype(np.uint16): "uint16_t",
              np.dtype(np.int32): "int32_t", np.dtype(np.int64): "int64_t",
              np.dtype(np.float32): "float", np.dtype(np.float16): "uint16_t"}


def c_int(v: int) -> str:
    v = int(v)
    if v == -(1 << 31):
        return "INT32_MIN"
    return str(v)


def c_float(v: float) -> str:
    """The float32 value exactly, as a C literal (9 significant digits round-trip float32)."""
    f = float(np.float32(v))
    if math.isinf(f):
        return "INFINITY" if f > 0 else "-INFINITY"
    text = f"{f:.9g}"
    if not re.search(r"[.e]", text):
        text += ".0"
    return text + "f"


def c_values(arr: np.ndarray, per_line: int = 16) -> list[str]:
    flat = np.ascontiguousarray(arr).reshape(-1)
    if flat.dtype == np.float16:
        flat = flat.view(np.uint16)
    fmt = c_float if flat.dtype == np.float32 else c_int
    items = [fmt(v) for v in flat.tolist()]
    return [", ".join(items[i:i + per_line]) + "," for i in range(0, len(items), per_line)]


def c_ident(text: str, limit: int = 28) -> str:
    tail = re.split(r"[/;:]", text.rstrip("/;:"))[-1] if text else ""
    ident = re.sub(r"\W+", "_", tail).strip("_").lower()[:limit]
    return ident or "t"


_RUNTIME_INCLUDE = re.compile(r'#include "\.\./(tinyrt_\w+\.h)"')
_KERNEL_INCLUDE = re.compile(r'#include "(\w+\.(?:h|inc))"')
_PROTOTYPE = re.compile(r"TINYRT_KERNEL\s+[\w\s\*]*?\b(\w+)\s*\(([^)]*)\)", re.S)
# A header instantiating a body it shares with its FP32 or FP16 twin (templates/kernels/
# train_rows.inc): `#define TR_T <type>`, `#define TR_FN(name) name##<suffix>`, `#include "x.inc"`.
_INSTANCE = re.compile(r'#define TR_T (\w+)\n#define TR_FN\(name\) name##(\w+)\n'
                       r'#include "(\w+\.inc)"')


def _instantiated(text: str) -> str:
    """A kernel header's text with the shared bodies it instantiates written out."""
    folder = data_dir("templates") / "kernels"
    for ctype, suffix, body in _INSTANCE.findall(text):
        code = re.sub(r"\bTR_T\b", ctype, (folder / body).read_text())
        text += re.sub(r"\bTR_FN\((\w+)\)", rf"\g<1>{suffix}", code)
    return text


def kernel_prototypes(header: str) -> dict[str, list[tuple[str, str]]]:
    """(C type, name) of each parameter of every kernel in ``templates/kernels/<header>.h``,
    read from the prototypes."""
    text = _instantiated((data_dir("templates") / "kernels" / f"{header}.h").read_text())
    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)
    result = {}
    for name, params in _PROTOTYPE.findall(text):
        decls = [re.sub(r"\[.*?\]", "", p).strip() for p in params.split(",")
                 if p.strip() and p.strip() != "void"]
        result[name] = [(d[:len(d) - len(d.split()[-1].lstrip("*"))].strip(),
                         d.split()[-1].lstrip("*")) for d in decls]
    return result


def kernel_params(header: str) -> dict[str, list[str]]:
    """Parameter names of every kernel in ``templates/kernels/<header>.h``, so each generated
    argument can be labelled with what it means."""
    return {k: [name for _, name in v] for k, v in kernel_prototypes(header).items()}


def template_env() -> jinja2.Environment:
    """The Jinja environment of templates/ (the model's and the training code's)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["c_values"] = c_values
    return env


def _tensor_desc(graph, t: int) -> str:
    tensor = graph.t(t)
    return f"{tensor.dtype}{list(tensor.shape)}"


def _io(lowered, indices: list[int]) -> list[dict]:
    g, plan = lowered.graph, lowered.plan
    out = []
    for t in indices:
        tensor = g.t(t)
        q = tensor.quant
        base, off = locate(plan, plan.tensor_offset(t))
        out.append({"name": tensor.name, "offset": plan.tensor_offset(t), "bytes": tensor.nbytes,
                    "ptr": f"{base} + {off}",
                    "ctype": DTYPE_CTYPES[tensor.dtype], "dtype": tensor.dtype,
                    "shape": list(tensor.shape) or [1],
                    "scale": c_float(q.scale[0]) if q is not None else "0.0f",
                    "zero_point": int(q.zero_point[0]) if q is not None else 0})
    return out


def context(lowered) -> dict:
    g, plan = lowered.graph, lowered.plan
    weights = {}
    for t in lowered.const_tensors:
        tensor = g.t(t)
        weights[t] = {"name": f"w{t}_{c_ident(tensor.name)}", "ctype": DTYPE_CTYPES[tensor.dtype],
                      "count": tensor.size, "data": tensor.data,
                      "comment": f"{tensor.name[:100]}: {_tensor_desc(g, t)}"}
    layers, consts, const_names = [], [], {}
    for n, layer in enumerate(lowered.layers):
        desc = (f"{layer.op_type} '{layer.name[:80]}': "
                f"{', '.join(_tensor_desc(g, t) for t in layer.inputs if t >= 0)}"
                f" -> {', '.join(_tensor_desc(g, t) for t in layer.outputs)}")
        entry = {"n": n, "comment": desc, "kernel": None, "args": [], "variant": layer.variant,
                 "streamed": layer.streamed, "stage": None}
        if layer.call is not None:
            names = const_names.setdefault(layer.index, {})
            for cname, arr in layer.call.consts.items():
                names[cname] = f"l{n:02d}_{cname}"
                consts.append({"name": names[cname], "ctype": _NP_CTYPES[arr.dtype],
                               "count": arr.size, "data": arr,
                               "comment": f"layer {n} ({layer.op_type}) {cname}"})
            if not layer.streamed:
                entry["kernel"] = layer.call.kernel
                entry["args"] = _call_args(layer.call, g, plan, weights, names, layer.index, n)
        layers.append(entry)
    wrappers = []
    for code in lowered.stages:
        first = code.stage.ops[0]
        args = lambda call, op, first=first: _call_args(call, g, plan, weights,
                                                        const_names.get(op, {}), first, op)
        stage_wrappers, statements = stage_context(lowered, code, args, kernel_prototypes)
        wrappers += stage_wrappers
        next(e for e, layer in zip(layers, lowered.layers) if layer.index == first)["stage"] = \
            statements
    io_ctype = lambda ts: (DTYPE_CTYPES[g.t(ts[0]).dtype]
                           if len({g.t(t).dtype for t in ts}) == 1 else "uint8_t")
    return {"model_name": g.name, "model_hash": lowered.model_hash, "arena_bytes": plan.arena_bytes,
            "region_bytes": plan.regions if len(plan.regions) > 1 else [plan.arena_bytes],
            "board": lowered.board["id"], "alignment": max(16, plan.alignment),
            "inputs": _io(lowered, g.inputs), "outputs": _io(lowered, g.outputs),
            "inputs_preserved": int(plan.inputs_preserved(g.inputs)),
            "input_ctype": io_ctype(g.inputs), "output_ctype": io_ctype(g.outputs),
            "kernel_headers": lowered.kernel_headers, "weights": list(weights.values()),
            "consts": consts, "layers": layers, "wrappers": wrappers,
            "input_streamed": int(any(s[0] == "read" for c in lowered.stages for s in c.steps)),
            "macs": sum(layer.macs for layer in lowered.layers)}


def _call_args(call, g, plan, weights, names, scratch_op: int, label) -> list[dict]:
    """The argument dicts the template prints, each labelled with its parameter's name."""
    args = [_arg(a, g, plan, weights, names, scratch_op) for a in call.args]
    params = kernel_params(call.header).get(call.kernel)
    if params is None or len(params) != len(args):
        raise AssertionError(f"layer {label}: {call.kernel} takes {params}, "
                             f"the op lowered {len(args)} arguments")
    for a, pname in zip(args, params):
        a["param"] = pname
    return args


def _arena_arg(plan, ctype: str, offset: int) -> dict:
    """A pointer into the arena: the array of its memory region and the offset there."""
    base, off = locate(plan, offset)
    return {"kind": "arena", "ctype": ctype, "base": base, "offset": off}


def _arg(a, g, plan, weights, const_names, op_index) -> dict:
    if isinstance(a, Buf):
        if a.tensor in weights:
            return {"kind": "flash", "name": weights[a.tensor]["name"]}
        return _arena_arg(plan, DTYPE_CTYPES[g.t(a.tensor).dtype], plan.tensor_offset(a.tensor))
    if isinstance(a, Const):
        return {"kind": "flash", "name": const_names[a.name]}
    if isinstance(a, Scratch):
        return _arena_arg(plan, "void", plan.scratch_offset(op_index) + a.offset)
    if isinstance(a, Region):
        return _arena_arg(plan, DTYPE_CTYPES[g.t(a.tensor).dtype],
                          plan.tensor_offset(a.tensor) + a.offset)
    if isinstance(a, (bool, np.bool_)):
        return {"kind": "literal", "text": "1" if a else "0"}
    if isinstance(a, (int, np.integer)):
        return {"kind": "literal", "text": c_int(a)}
    if isinstance(a, (float, np.floating)):
        return {"kind": "literal", "text": c_float(a)}
    raise TypeError(f"kernel argument {a!r} of op {op_index} has no C form")


def kernel_files(header: str) -> dict[str, str]:
    """templates/kernels/<header>.h and every header it includes, transitively: runtime headers
    (``#include "../tinyrt_dsp.h"``) and sibling kernel families a SIMD family reuses
    (``#include "conv2d_s8.h"``), as {relative path in the project: text}."""
    files: dict[str, str] = {}
    todo = [f"kernels/{header}.h"]
    while todo:
        rel = todo.pop()
        if rel in files:
            continue
        folder = "kernels" if rel.startswith("kernels/") else "runtime"
        text = (data_dir("templates") / folder / rel.split("/")[-1]).read_text()
        files[rel] = text
        todo += _RUNTIME_INCLUDE.findall(text)
        if folder == "kernels":
            todo += [f"kernels/{name}" for name in _KERNEL_INCLUDE.findall(text)]
    return files


def render(lowered, host_main: bool = True) -> dict[str, str]:
    env = template_env()
    ctx = context(lowered)
    files = {
        "model.h": env.get_template("model.h.j2").render(ctx),
        "model.c": env.get_template("model.c.j2").render(ctx),
        "model_weights.c": env.get_template("model_weights.c.j2").render(ctx),
        "model_weights.h": env.get_template("model_weights.h.j2").render(ctx),
        "tinyrt_math.h": (data_dir("templates") / "runtime" / "tinyrt_math.h").read_text(),
    }
    for header in lowered.kernel_headers:
        files.update(kernel_files(header))
    if host_main:
        files["main_host.c"] = env.get_template("main_host.c.j2").render(ctx)
    return files

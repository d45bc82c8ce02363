"""The kernel-variant table (tinyrt/variants.py): one place chooses every layer's kernel, from
the op, its dtype, the board's features and the layer's shapes, and the choice is recorded."""
from __future__ import annotations

import subprocess
import sys

import pytest

import codegen
from builder import ModelBuilder
from test_op_conv2d import conv_model
from tinyrt import variants
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.kernels import SIMD_FAMILIES
from tinyrt.ops import SUPPORTED_OPS


def rows_of(op: str, dtype: str):
    return [k for k in variants.KERNELS if (k.op, k.dtype) == (op, dtype)]


def test_every_family_ends_with_a_portable_kernel_that_always_applies():
    for op, dtype in variants.FAMILIES:
        last = rows_of(op, dtype)[-1]
        assert last.variant == "portable" and last.features == (), (op, dtype)
        assert last.when.__name__ == "_always", (op, dtype)


def test_every_supported_op_has_a_family():
    covered = {op for op, _ in variants.FAMILIES}
    assert covered == set(SUPPORTED_OPS)


def test_simd_rows_need_the_feature_of_their_instruction_set():
    needs = {"dsp": {"dsp"}, "mve": {"mve", "mve_fp"}}
    for k in variants.KERNELS:
        assert k.variant in variants.VARIANTS
        if k.variant != "portable":
            assert set(k.features) & needs[k.variant], k


def test_simd_rows_come_before_the_portable_rows_of_their_family():
    for op, dtype in variants.FAMILIES:
        names = [k.variant for k in rows_of(op, dtype)]
        first_portable = names.index("portable")
        assert all(v == "portable" for v in names[first_portable:]), (op, dtype, names)


def test_every_simd_family_module_is_in_the_table():
    import importlib
    for family in SIMD_FAMILIES:
        for k in importlib.import_module(f"tinyrt.kernels.{family}").KERNELS:
            assert k in variants.KERNELS


def test_the_host_runs_portable_kernels_only():
    lowered = codegen.lower(conv_model(kernel=(1, 1)), load_board("host"))
    assert [layer.variant for layer in lowered.layers] == ["portable"]


def test_portable_kernels_can_be_forced_on_a_simd_board():
    for board in ("qemu-m4", "qemu-m55"):
        lowered = codegen.lower(conv_model(kernel=(3, 3)), load_board(board), kernels=("portable",))
        assert {layer.variant for layer in lowered.layers} == {"portable"}


def test_an_unknown_variant_is_a_clear_error():
    with pytest.raises(TinyrtError, match="unknown kernel variant 'neon'"):
        codegen.lower(conv_model(), load_board("host"), kernels=("neon",))


def test_the_choice_is_recorded_on_each_layer_with_its_kernel():
    lowered = codegen.lower(conv_model(kernel=(1, 1)), load_board("qemu-m4"))
    layer = lowered.layers[0]
    row = variants.resolve(lowered.graph, lowered.graph.ops[layer.index], load_board("qemu-m4"))
    assert layer.variant == row.variant
    assert layer.kernel == layer.call.kernel and layer.kernel.startswith("conv2d_s8")


def test_a_float_op_without_a_float_family_names_the_dtype_it_found():
    m = ModelBuilder()
    a = m.input((1, 8), "float32")
    b = m.input((1, 8), "float32")
    y = m.tensor((1, 8), "float32")
    m.op("MUL", [a, b], [y])
    with pytest.raises(TinyrtError, match="float32"):
        codegen.lower(m.graph([y]), load_board("host"))


def test_kernels_command_lists_the_table_and_what_a_board_may_use():
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "kernels", "--board", "qemu-m4",
                           "--json", "-"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    import json
    rows = json.loads(proc.stdout)["kernels"]
    assert len(rows) == len(variants.KERNELS)
    assert all(r["usable"] == ("mve" not in r["features"] and "mve_fp" not in r["features"])
               for r in rows)


def test_plan_kernels_portable_forces_the_portable_variant(tmp_path):
    from tinyrt.writer import write_tflite
    model = tmp_path / "conv.tflite"
    model.write_bytes(write_tflite(conv_model(kernel=(1, 1))))
    import json
    out = {}
    for choice in ("auto", "portable"):
        proc = subprocess.run([sys.executable, "-m", "tinyrt", "plan", str(model), "--board",
                               "qemu-m4", "--kernels", choice, "--json", "-"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        out[choice] = json.loads(proc.stdout)["steps"][0]["variant"]
    assert out["portable"] == "portable"
    assert out["auto"] == variants.resolve(conv_model(kernel=(1, 1)), conv_model(kernel=(1, 1)).ops[0],
                                           load_board("qemu-m4")).variant

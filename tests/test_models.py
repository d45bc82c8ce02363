"""Every int8 MLPerf Tiny model in ../shared is bit-exact with tflite-runtime on 20 random inputs
through the host build."""
import pytest

from tinyrt.frontend import read_tflite
from tinyrt.verify import verify_host

MODELS = ["ad01_int8", "kws_int8", "ic_resnet8_int8", "vww_int8"]


@pytest.mark.parametrize("name", MODELS)
def test_shared_int8_model_is_bit_exact_on_20_inputs(shared_models, name):
    path = shared_models / f"{name}.tflite"
    result = verify_host(read_tflite(path), str(path), runs=20, seed=0)
    assert result.bit_exact_runs == 20, [r for r in result.runs if not r.bit_exact][:3]


@pytest.mark.parametrize("name", MODELS)
def test_arena_is_no_larger_than_tflite_micro(shared_models, name):
    """The issue's memory target: tinyrt's arena <= TFLM's (measured, in shared/baselines)."""
    import codegen
    from tinyrt import bench
    from tinyrt.boards import load_board
    base = bench.baseline(bench.baselines(shared_models.parent), name, "qemu-m4")
    if base is None:
        pytest.skip("no TFLM baseline for this model")
    lowered = codegen.lower(read_tflite(shared_models / f"{name}.tflite"), load_board("host"))
    assert lowered.plan.arena_bytes <= base["arena_bytes"]

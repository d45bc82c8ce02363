"""The trained example model (tinyrt/example_digits.py): a numpy-trained CNN on scikit-learn's
digits, exported with the writer, quantised with tinyrt's quantizer, deployable bit-exactly."""
import numpy as np
import pytest

pytest.importorskip("sklearn")

from tinyrt import example_digits as ex  # noqa: E402
from tinyrt.cli import main  # noqa: E402
from tinyrt.frontend import read_tflite  # noqa: E402
from tinyrt.quantize.report import quantize_input  # noqa: E402
from tinyrt.reference import Reference  # noqa: E402
from tinyrt.verify import verify_host  # noqa: E402


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    return out, ex.make_example(out)


def test_float_and_int8_models_classify_held_out_digits(example):
    _, r = example
    assert r["float_test_accuracy"] >= 0.95
    assert r["int8_test_accuracy"] >= r["float_test_accuracy"] - 0.01
    assert r["top1_agreement"] >= 0.98


def test_exported_float_model_computes_what_numpy_trained(example):
    _, r = example
    assert r["float_test_accuracy"] == pytest.approx(r["numpy_test_accuracy"], abs=0.005)


def test_training_is_deterministic():
    x, y, _, _ = ex.load_data()
    a = ex.train(x[:200], y[:200], seed=0, epochs=1)
    b = ex.train(x[:200], y[:200], seed=0, epochs=1)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_gradients_match_finite_differences_where_smooth():
    """Weights after the first layer (max-pool ties at zero make conv1's loss non-smooth)."""
    x, y, _, _ = ex.load_data()
    rng = np.random.default_rng(1)
    p = ex.init_params(rng)
    xb, yb = x[:4].astype(np.float64), y[:4]
    _, g = ex.gradients(p, xb, yb)
    for k in ("w2", "b2", "w3", "b3"):
        idx = tuple(int(rng.integers(0, s)) for s in p[k].shape)
        p[k][idx] += 1e-5
        up, _ = ex.gradients(p, xb, yb)
        p[k][idx] -= 2e-5
        down, _ = ex.gradients(p, xb, yb)
        p[k][idx] += 1e-5
        assert (up - down) / 2e-5 == pytest.approx(g[k][idx], rel=1e-4, abs=1e-8)


def test_int8_model_is_bit_exact_in_generated_code_on_real_digits(example):
    out, _ = example
    path = out / "digits_int8.tflite"
    graph = read_tflite(path)
    detail = Reference(str(path)).inputs[0]
    digits = np.load(out / "digits_test.npy")[:8]
    inputs = [[quantize_input(d[None], detail)] for d in digits]
    assert verify_host(graph, str(path), inputs=inputs).ok


def test_written_data_files_feed_tinyrt_quantize(example, capsys):
    out, _ = example
    code = main(["quantize", str(out / "digits_float.tflite"), "--calib",
                 str(out / "digits_calib.npy"), "--holdout", str(out / "digits_test.npy"),
                 "--labels", str(out / "digits_test_labels.npy"), "-o", str(out / "q.tflite"),
                 "-q"])
    assert code == 0 and "accuracy: float" in capsys.readouterr().out

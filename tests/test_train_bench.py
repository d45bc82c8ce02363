"""bench train's sparse rows: issue 11's sparse configurations (kws: the last 2 layers' weights
and all biases; vww: biases of the last 6 layers, weights of the last 2), the largest channel
fraction of them that fits the issue's goal on qemu-m4, and the all-channel configuration
reported with the core's refusal: by how much, and what fits. Planning only (no board)."""
from tinyrt.boards import load_board
from tinyrt.bench_train import full_row_refusal, goal_of, sparse_spec, spec_for
from tinyrt.frontend import read_tflite
from tinyrt.train.fit import largest_fraction

KB = 1024


def test_sparse_specs_are_the_issues(shared_models):
    kws = read_tflite(shared_models / "kws_int8.tflite")
    vww = read_tflite(shared_models / "vww_int8.tflite")
    # kws: 10 layers with weights, the first is the frozen backbone's: 9 biases
    assert spec_for("sparse-full", kws, "kws_int8") == "bias:last:9,last:2"
    assert spec_for("sparse-full", vww, "vww_int8") == "bias:last:6,last:2"
    assert spec_for("bias-only", kws, "kws_int8") == "bias:last:6"


def test_the_goal_is_the_issues_unless_the_board_has_less():
    board = load_board("qemu-m4")   # 4 MB of SRAM
    assert goal_of("vww_int8", board) == (256 * KB, "issue 11's goal 256 KB")
    assert goal_of("kws_int8", board) == (64 * KB, "issue 11's goal 64 KB")
    assert goal_of("digits_int8", load_board("host")) == (None, "the host")


def test_vww_sparse_takes_the_largest_fraction_that_fits_256_kb(shared_models):
    vww = read_tflite(shared_models / "vww_int8.tflite")
    board = load_board("qemu-m4")
    spec = sparse_spec(vww, "bias:last:6,last:2", board, 256 * KB)
    assert spec == "bias:last:6,last:2:0.25"
    assert largest_fraction(vww, "bias:last:6,last:2", board, 1 << 30)[0] == "bias:last:6,last:2"


def test_the_all_channel_row_says_by_how_much_and_what_fits(shared_models):
    vww = read_tflite(shared_models / "vww_int8.tflite")
    refused = full_row_refusal(vww, "bias:last:6,last:2", load_board("qemu-m4"), 256 * KB,
                               "issue 11's goal 256 KB")
    assert refused.startswith("over issue 11's goal 256 KB: training vww_int8")
    assert "B too many; try: --train bias:last:" in refused


def test_kws_with_all_biases_cannot_fit_64_kb_and_last_2_does(shared_models):
    """Every bias below the pooling means backward through the 25x5x64 maps: their FP32
    activations (32,000 B each) are saved from forward to backward."""
    kws = read_tflite(shared_models / "kws_int8.tflite")
    board = load_board("qemu-m4")
    refused = full_row_refusal(kws, "bias:last:9,last:2", board, 64 * KB, "the goal")
    assert "training peak 307,976 B" in refused and "242,440 B too many" in refused
    assert "try: --train last:2 fits: training peak 56,112 B" in refused
    assert sparse_spec(kws, "bias:last:9,last:2", board, 64 * KB) == "last:2"

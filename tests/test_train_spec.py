"""`--train` strings parse into plain data and select the layers they name; mistakes are
TinyrtErrors that say what is accepted."""
import pytest

from tinyrt.errors import TinyrtError, UnsupportedOp
from tinyrt.train import prepare
from tinyrt.train.spec import Part, Trains, parse, resolve
from train_models import small_cnn

# small_cnn's layers with weights: ops 0, 1, 2 (depthwise), 4, 7 (fully connected)


def test_the_four_forms_parse_into_parts():
    assert parse("last:2") == [Part("all", 2)]
    assert parse("bias") == [Part("bias", None)]
    assert parse("bias:last:6,last:2") == [Part("bias", 6), Part("all", 2)]
    assert parse("conv1, 3") == [Part("all", None, "conv1"), Part("all", None, "3")]


@pytest.mark.parametrize("text", ["", "last:0", "last:x", "bias:last", "last:2,,bias",
                                  "bias:first:2"])
def test_malformed_strings_are_refused_with_the_grammar(text):
    with pytest.raises(TinyrtError, match="--train|empty"):
        parse(text)


def test_last_k_trains_weights_and_biases_of_the_last_k_weighted_layers():
    assert resolve(parse("last:2"), small_cnn()) == {4: Trains(True, True), 7: Trains(True, True)}


def test_a_channel_fraction_spares_the_classifier():
    """The last layer with weights (the classifier) trains all its output channels."""
    from fractions import Fraction
    assert resolve(parse("bias:last:3,last:2:0.25"), small_cnn()) == {
        2: Trains(False, True), 4: Trains(True, True, Fraction(1, 4)), 7: Trains(True, True)}
    assert resolve(parse("last:1:0.5"), small_cnn()) == {7: Trains(True, True)}


def test_sparse_spec_trains_more_biases_than_weights():
    assert resolve(parse("bias:last:3,last:1"), small_cnn()) == {
        2: Trains(False, True), 4: Trains(False, True), 7: Trains(True, True)}


def test_explicit_layers_by_name_or_index():
    assert set(resolve(parse("depthwise_conv_2d_2,7"), small_cnn())) == {2, 7}


def test_unknown_layer_lists_the_layers_with_weights():
    with pytest.raises(TinyrtError, match="layers with weights: 0 .*7 \\(fully_connected_7\\)"):
        resolve(parse("conv9"), small_cnn())


def test_more_layers_than_the_model_has_is_refused():
    with pytest.raises(TinyrtError, match="has 5 layers with weights, not 9"):
        resolve(parse("last:9"), small_cnn())


def test_training_the_first_layer_is_refused():
    with pytest.raises(TinyrtError, match="first layer .* cannot train"):
        prepare(small_cnn(), "last:5")


def test_the_tail_starts_at_the_earliest_trained_layer():
    tg = prepare(small_cnn(), "bias:last:3,last:1")
    assert tg.backbone == [0, 1]
    assert [op.type for op in tg.tail] == ["DEPTHWISE_CONV_2D", "MAX_POOL_2D", "CONV_2D",
                                           "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED"]
    assert [p.name for p in tg.params] == ["depthwise_conv_2d_2/bias", "conv_2d_4/bias",
                                           "fully_connected_7/weights", "fully_connected_7/bias"]


def test_an_op_the_tail_cannot_run_is_named():
    g = small_cnn()
    g.ops[3].type = "L2_NORMALIZATION"
    with pytest.raises(UnsupportedOp, match="op #3 L2_NORMALIZATION .* cannot run in the "
                                            "training tail"):
        prepare(g, "last:3")

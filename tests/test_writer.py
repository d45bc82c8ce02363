"""The writer: what it writes reads back to the same IR, and tflite-runtime runs it."""
import numpy as np

from tinyrt import reference
from tinyrt.frontend import parse_tflite, read_tflite
from tinyrt.writer import write_tflite


def assert_same_graph(a, b):
    assert a.tensors == b.tensors
    assert [(o.type, o.inputs, o.outputs, o.attrs) for o in a.ops] == \
           [(o.type, o.inputs, o.outputs, o.attrs) for o in b.ops]
    assert (a.inputs, a.outputs) == (b.inputs, b.outputs)


def test_shared_models_round_trip_and_run_identically(shared_models):
    for path in sorted(shared_models.glob("*.tflite")):
        graph = read_tflite(path)
        data = write_tflite(graph)
        assert_same_graph(graph, parse_tflite(data))
        x = reference.random_inputs(graph, np.random.default_rng(0))
        for a, b in zip(reference.Reference(str(path)).run(x), reference.Reference(data).run(x)):
            assert a.tobytes() == b.tobytes(), path.name


def test_example_model_round_trips_and_loads():
    from tinyrt.examples import build_example
    graph = build_example()
    data = write_tflite(graph)
    assert_same_graph(graph, parse_tflite(data, name=graph.name))
    reference.Reference(data).run(reference.random_inputs(graph, np.random.default_rng(1)))

"""On-device training over the serial protocol (firmware/train.c, tinyrt/train/device.py): the
TRAIN_* messages round-trip, the C server answers them on a host training firmware (and refuses
them on an inference one), a retried training request is answered again without training twice,
and on qemu-m4 the parameters read back after k steps equal the numpy reference within 1e-5
relative."""
from __future__ import annotations

import time

import numpy as np
import pytest

from firmware_project import requires_arm_gcc, requires_qemu
from tinyrt import protocol as p
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.link import DeviceRejected
from tinyrt.train import device, reference
from train_models import small_cnn

RTOL = 1e-5
E = p.ErrorCode


# --- the messages ------------------------------------------------------------------------------

@pytest.mark.parametrize("request_, payload", [
    (p.TrainSample(7), b"\x07\0\0\0"),
    (p.TrainSample(-1), b"\xff\xff\xff\xff"),
    (p.TrainUpdate(0.5, 0.25, 3), b"\0\0\0\x3f\0\0\x80\x3e\x03\0"),
    (p.TrainEval(), b""),
    (p.TrainParams(512, 100), b"\0\x02\0\0\x64\0"),
    (p.TrainReset(), b""),
    (p.TrainBegin(0.5, 3), b"\0\0\0\x3f\x03\0"),
])
def test_training_requests_have_the_documented_payloads(request_, payload):
    assert request_.payload() == payload
    assert p.request_frame(request_, 9).type == int(request_.command)


@pytest.mark.parametrize("command, response", [
    (p.Command.TRAIN_SAMPLE, p.SampleTrained(1.5, 3, 2**40 + 5)),
    (p.Command.TRAIN_UPDATE, p.Updated(48640)),
    (p.Command.TRAIN_EVAL, p.Evaluated(9, 917680)),
    (p.Command.TRAIN_PARAMS, p.ParamsChunk(508, bytes(range(200)))),
    (p.Command.TRAIN_RESET, p.ResetDone()),
    (p.Command.TRAIN_BEGIN, p.BatchBegun(321)),
])
def test_training_responses_round_trip_through_frames(command, response):
    wire = p.encode_frame(p.response_frame(command, 41, response))
    frame = p.decode_frame(wire[1:-1])
    assert frame.seq == 41 and p.decode_response(frame) == response


def _info(training):
    t = p.TensorInfo("int8", (1, 4, 4, 1), 0.5, -3, 16)
    return p.DeviceInfo(512, 3, False, 2560, 25_000_000, 16, 10, "m", "h", "0.1.0", "qemu-m4",
                        "emulated_instructions", (t,), (t,), False, True, training)


def test_info_carries_the_training_block_only_on_a_training_build():
    trained = _info(p.TrainingInfo(56632, 54072, 14952, 10, True))
    assert p.DeviceInfo.decode(trained.encode()) == trained
    assert trained.encode()[6] & p.FLAG_TRAINING
    plain = _info(None)
    assert p.DeviceInfo.decode(plain.encode()).training is None
    assert not plain.encode()[6] & p.FLAG_TRAINING


def test_a_short_training_response_is_a_protocol_error():
    with pytest.raises(p.ProtocolError) as e:
        p.SampleTrained.decode(b"\0" * 15)
    assert e.value.code == E.BAD_LENGTH


# --- the C server on the host ---------------------------------------------------------------------

def _data(n: int, seed: int = 2, classes: int = 5):
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (n, 1, 9, 7, 3)).astype(np.int8),
            rng.integers(0, classes, n))


@pytest.fixture(scope="module")
def host_trainer():
    with device.deploy(small_cnn(), load_board("host"), "last:2") as t:
        yield t


def reference_params(tg, x, y, lr, momentum, batch):
    return reference.train(tg, reference.boundary_activations(tg, x), y, lr, momentum, batch)["params"]


def assert_close(got: dict, tg, want) -> float:
    worst = 0.0
    for prm, ref in zip(tg.params, want):
        assert not np.array_equal(ref, prm.init), f"{prm.name} did not train"
        rel = float(np.abs(got[prm.name] - ref).max() / np.abs(ref).max())
        assert rel <= RTOL, f"{prm.name}: {rel:.2e} relative to the numpy reference"
        worst = max(worst, rel)
    return worst


def test_info_says_the_firmware_trains_and_its_planned_peak(host_trainer):
    tr = host_trainer.info.training
    assert tr.peak_bytes == host_trainer.project.plan.peak_bytes
    assert tr.params_bytes == host_trainer.project.tg.param_count * 4
    assert tr.classes == 5 and tr.momentum


def test_host_firmware_trains_as_the_numpy_reference_and_resets(host_trainer):
    t = host_trainer
    t.reset()
    x, y = _data(7)
    epoch = t.train(x, y, lr=0.05, momentum=0.9, batch=3)
    assert len(epoch.update_counts) == 3 and len(epoch.losses) == 7
    assert_close(t.params(), t.project.tg, reference_params(t.project.tg, x, y, 0.05, 0.9, 3))
    want_eval = reference.evaluate(t.project.tg, [t.params()[q.name] for q in t.project.tg.params],
                                   reference.boundary_activations(t.project.tg, x))
    assert t.evaluate(x, y)["predictions"] == want_eval
    t.reset()
    assert all(np.array_equal(t.params()[q.name], q.init) for q in t.project.tg.params)


def test_training_needs_a_whole_input_and_a_label_in_range(host_trainer):
    link = host_trainer.device.link
    with pytest.raises(DeviceRejected) as e:
        link.request(p.TrainSample(0))   # no SET_INPUT since the last run
    assert e.value.code == E.NOT_READY
    host_trainer.device.set_input(bytes(189))
    with pytest.raises(DeviceRejected) as e:
        link.request(p.TrainSample(5))
    assert e.value.code == E.BAD_ARGUMENT and "detail 5" in e.value.message
    with pytest.raises(DeviceRejected) as e:
        link.request(p.TrainUpdate(0.1, 0.9, 0))
    assert e.value.code == E.BAD_ARGUMENT


def _exchange(link, wire: bytes) -> bytes:
    """Send raw bytes, return the first whole frame that comes back."""
    link.serial.write(wire)
    splitter, deadline = p.FrameSplitter(), time.monotonic() + 5
    while time.monotonic() < deadline:
        frames = splitter.feed(link.serial.read(max(1, link.serial.in_waiting)))
        if frames:
            return frames[0]
    raise AssertionError("no answer")


def test_a_retried_training_sample_is_answered_again_without_training_twice(host_trainer):
    t = host_trainer
    t.reset()
    x, y = _data(1, seed=5)
    t.begin(0.0, 1)
    t.device.set_input(x[0].tobytes())
    wire = p.encode_frame(p.request_frame(p.TrainSample(int(y[0])), 4242))
    first, again = _exchange(t.device.link, wire), _exchange(t.device.link, wire)
    assert again == first
    t.update(0.05, 0.0, 1)
    assert_close(t.params(), t.project.tg, reference_params(t.project.tg, x, y, 0.05, 0.0, 1))


def test_an_inference_firmware_refuses_training_commands():
    from tinyrt.pipeline import DeployOptions, session
    with session(small_cnn(), load_board("host"), DeployOptions(quiet=True)) as s:
        assert s.device.info().training is None
        with pytest.raises(DeviceRejected) as e:
            s.device.link.request(p.TrainReset())
        assert e.value.code == E.NOT_SUPPORTED
        assert "tinyrt finetune" in e.value.hints[0] and "--profile" not in str(e.value)
        with pytest.raises(TinyrtError, match="built without training"):
            device.Trainer(s.device, device.prepare(small_cnn(), load_board("host"))[1])


# --- an emulated board ----------------------------------------------------------------------------

@requires_arm_gcc
@requires_qemu
def test_qemu_m4_parameters_after_k_steps_equal_the_numpy_reference():
    x, y = _data(10, seed=3)
    with device.deploy(small_cnn(), load_board("qemu-m4"), "bias:last:3,last:1") as t:
        epoch = t.train(x, y, lr=0.05, momentum=0.9, batch=4)
        got = t.params()
        mem = t.memory()
        assert t.info.latency_unit == "emulated_instructions" and min(epoch.step_counts) > 0
    worst = assert_close(got, t.project.tg, reference_params(t.project.tg, x, y, 0.05, 0.9, 4))
    assert mem["training_peak_sram_bytes"] > mem["planned_training_peak_bytes"] >= \
        mem["training_arena_bytes"]
    print(f"qemu-m4 small_cnn: max rel diff {worst:.2e}, peak {mem['training_peak_sram_bytes']:,} B")

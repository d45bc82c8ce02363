"""The link to a real emulated board (QEMU, qemu-m4) through the fault-injecting proxy.

A board reset in the middle of an inference: the host's port stays open (the proxy moves to the
restarted emulator, as a real board's serial port stays open across a reset), the fresh board
has no input, so GET_OUTPUT answers NOT_READY; ``Device.run`` notices, checks with INFO that the
same model is there, sends the input again and gets the verified output. Then a bounded run at
1 % corrupted bytes with resets: every inference verified or reported, none silently wrong.
"""
import numpy as np
import pytest

from firmware_project import requires_arm_gcc, requires_qemu
from tinyrt import reference
from tinyrt.bench_link import ResettingLink, _LinkRun, bench_link, build
from tinyrt.boards import load_board
from tinyrt.link import Device
from tinyrt.linkproxy import DOWN, UP, Faults, LinkProxy

pytestmark = [requires_arm_gcc, requires_qemu]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The bench's small model built for qemu-m4: (model path, graph, firmware ELF)."""
    board = load_board("qemu-m4")
    path, lowered, elf = build("small", board, tmp_path_factory.mktemp("link-board"))
    return board, path, lowered.graph, elf


@pytest.fixture
def board_run(small):
    """A ``_LinkRun`` on a fresh emulator behind a proxy without faults, and a Device on it."""
    board, path, graph, elf = small
    with LinkProxy(0, Faults()) as proxy:
        run = _LinkRun(proxy, board, elf, reference.Reference(str(path)), graph)
        try:
            link = ResettingLink(proxy.url, timeout=0.5, retries=8)
            with Device(link, invoke_timeout=3.0) as dev:
                dev.info()
                yield run, link, dev
        finally:
            run.emulator.stop()


def inputs(graph, seed):
    return reference.random_inputs(graph, np.random.default_rng(seed))


# The small model's input fits one frame: frame 1 is SET_INPUT, 2 INVOKE, 3 GET_OUTPUT.
@pytest.mark.parametrize("frame,recovered", [(1, 0), (2, 1), (3, 1)],
                         ids=["before SET_INPUT", "before INVOKE", "before GET_OUTPUT"])
def test_a_reset_between_exchanges_is_noticed_and_the_input_sent_again(board_run, frame, recovered):
    run, link, dev = board_run
    link.arm(frame, run.reset_board, before=True)
    run.one(dev, inputs(run.graph, frame))
    assert run.counts["resets"] == 1
    assert (run.counts["verified"], run.counts["silently_wrong"], run.counts["reported_failures"]) == (1, 0, 0)
    assert (dev.recoveries, run.counts["recovered"]) == (recovered, recovered)
    run.one(dev, inputs(run.graph, 10 + frame))   # and the run goes on
    assert run.counts["verified"] == 2


@pytest.mark.parametrize("frame", [1, 2, 3])
def test_a_reset_while_the_board_reads_or_answers_still_gives_the_verified_output(board_run, frame):
    """The board restarts right after the host wrote the frame: whether the frame, the run or
    the answer survives is timing; the host waits, sends again and recovers if it must."""
    run, link, dev = board_run
    link.arm(frame, run.reset_board)
    run.one(dev, inputs(run.graph, frame))
    assert run.counts["resets"] == 1
    assert (run.counts["verified"], run.counts["silently_wrong"]) == (1, 0), run.failures


def test_one_percent_corrupted_bytes_and_resets_never_give_a_silently_wrong_output():
    faults = Faults(corrupt=0.01, drop=0.001, duplicate=0.001, reorder=0.001, delay=0.01, seed=5)
    r = bench_link(30, faults, resets=2, timeout=0.1, model="small", progress=False)
    assert r["silently_wrong"] == 0
    assert r["verified"] + r["reported_failures"] == r["inferences"] == 30
    assert r["resets"] == 2
    assert r["verified"] >= 24              # the link shrinks its frames and gets through
    assert r["payload_limit"] is not None and r["payload_limit"] < 512
    assert r["resends"] > 0 and r["faults"][UP]["corrupted"] > 0 and r["faults"][DOWN]["corrupted"] > 0

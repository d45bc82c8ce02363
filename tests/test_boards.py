"""Board files are data checked against a schema; a mistake in one names the file and the key."""
import copy
import tomllib

import pytest

from tinyrt.boards import board_files, budgets, load_board, region, validate
from tinyrt.errors import TinyrtError


def raw(board_id: str) -> dict:
    return tomllib.loads(board_files()[board_id].read_text())


PUBLIC_IDS = {"host", "qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55", "nucleo-f746zg",
              "nucleo-l4r5zi", "nrf52840dk", "rpi-pico"}
QEMU_IDS = [b for b in sorted(board_files()) if raw(b)["kind"] == "qemu"]


def test_every_public_board_id_has_a_file():
    assert PUBLIC_IDS <= set(board_files())


@pytest.mark.parametrize("board_id", sorted(board_files()))
def test_every_board_file_validates_against_the_schema(board_id):
    board = load_board(board_id)
    assert board["id"] == board_id


def test_every_public_emulated_board_is_found():
    assert {"qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55"} <= set(QEMU_IDS)


@pytest.mark.parametrize("board_id", QEMU_IDS)
def test_emulated_boards_count_emulated_instructions(board_id):
    board = load_board(board_id)
    assert board["counter"]["unit"] == "emulated_instructions"
    assert board["flash"]["method"] == "qemu"


def test_the_emulated_m55_has_helium_and_the_m4_dsp_and_fpu():
    assert {"mve", "dsp", "fpu"} <= set(load_board("qemu-m55")["features"])
    assert {"dsp", "fpu"} <= set(load_board("qemu-m4")["features"])
    assert load_board("rpi-pico")["features"] == []


def test_unknown_board_suggests_the_closest_names():
    with pytest.raises(TinyrtError) as e:
        load_board("qemu-m5")
    assert "unknown board 'qemu-m5'" in e.value.message
    assert any("qemu-m55" in h and "qemu-m4" in h for h in e.value.hints)


def test_misspelt_key_is_an_error_that_suggests_the_right_one():
    board = raw("qemu-m4")
    board["stack_byte"] = board.pop("stack_bytes")
    with pytest.raises(TinyrtError) as e:
        validate(board, "qemu-m4.toml")
    assert "unknown key 'stack_byte'" in e.value.message or "missing key 'stack_bytes'" in e.value.message


def test_misspelt_nested_key_names_its_table():
    board = raw("qemu-m4")
    board["memory"]["sram"]["lenght"] = board["memory"]["sram"].pop("length")
    with pytest.raises(TinyrtError, match=r"memory\.sram\.length"):
        validate(board, "qemu-m4.toml")


def test_a_value_of_the_wrong_type_is_an_error():
    board = raw("qemu-m4")
    board["clock_hz"] = "25 MHz"
    with pytest.raises(TinyrtError, match="'clock_hz' must be an integer"):
        validate(board, "qemu-m4.toml")


def test_placement_must_name_a_memory_region():
    board = raw("qemu-m4")
    board["placement"]["arena"] = "dtcm"
    with pytest.raises(TinyrtError, match="placement.arena names region 'dtcm'"):
        validate(board, "qemu-m4.toml")


def test_overlapping_memory_regions_are_rejected():
    board = raw("qemu-m4")
    board["memory"]["sram"]["origin"] = 0x00200000
    with pytest.raises(TinyrtError, match="overlap"):
        validate(board, "qemu-m4.toml")


def test_a_qemu_board_cannot_claim_cycles():
    board = raw("qemu-m7")
    board["counter"]["unit"] = "cycles"
    with pytest.raises(TinyrtError, match="emulated_instructions"):
        validate(board, "qemu-m7.toml")


def test_a_board_cannot_claim_a_feature_its_core_lacks():
    board = raw("qemu-m4")
    board["features"] = ["dsp", "fpu", "mve"]
    with pytest.raises(TinyrtError, match="'mve' is not available on a cortex-m4"):
        validate(board, "qemu-m4.toml")


def test_a_board_cannot_claim_dsp_on_a_cortex_m0plus():
    board = raw("rpi-pico")
    board["features"] = ["dsp"]
    with pytest.raises(TinyrtError, match="'dsp' is not available on a cortex-m0plus"):
        validate(board, "rpi-pico.toml")


def test_an_unknown_core_is_an_error():
    board = raw("qemu-m4")
    board["cpu"] = "cortex-m9"
    with pytest.raises(TinyrtError, match="cortex-m9"):
        validate(board, "qemu-m4.toml")


def test_fpu_and_float_abi_must_agree():
    board = raw("rpi-pico")
    board["float_abi"] = "hard"
    with pytest.raises(TinyrtError, match="float_abi"):
        validate(board, "rpi-pico.toml")


def test_firmware_sources_must_exist():
    board = raw("nrf52840dk")
    board["firmware"]["sources"] = ["startup_cortexm.c", "board_nrf53.c"]
    with pytest.raises(TinyrtError, match="board_nrf53.c"):
        validate(board, "nrf52840dk.toml")


def test_flash_method_needs_its_settings():
    board = raw("nucleo-f746zg")
    del board["flash"]["target"]
    with pytest.raises(TinyrtError, match="flash.target"):
        validate(board, "nucleo-f746zg.toml")


def test_board_id_must_match_its_file_name():
    board = raw("qemu-m4")
    with pytest.raises(TinyrtError, match="must match the file name"):
        validate(board, "qemu-m9.toml")


def test_host_board_keeps_its_small_schema():
    board = load_board("host")
    assert board["kind"] == "host" and budgets(board) == {"flash": 0, "sram": 0}


def test_the_emulated_m33_runs_from_the_secure_aliases_of_the_an505():
    m33 = load_board("qemu-m33")
    assert (m33["cpu"], m33["fpu"], m33["float_abi"]) == ("cortex-m33", "fpv5-sp-d16", "hard")
    assert set(m33["features"]) == {"dsp", "fpu"} and m33["flash"]["machine"] == "mps2-an505"
    # VTOR_S resets to 0x10000000 (SSRAM1, Secure alias): the vector table must be linked there
    assert region(m33, "code")["origin"] == region(m33, "weights")["origin"] == 0x10000000
    assert region(m33, "arena")["origin"] == 0x38000000  # SSRAM2+3, Secure alias
    assert (m33["console"]["base"], m33["counter"]["base"]) == (0x50200000, 0x50000000)
    assert m33["counter"]["tick_hz"] * m33["counter"]["instructions_per_tick"] == 1_000_000_000
    assert budgets(m33) == {"flash": 4 << 20, "sram": 4 << 20}


def test_region_returns_where_a_role_is_placed():
    m55 = load_board("qemu-m55")
    assert region(m55, "code")["origin"] == 0x10000000
    assert region(m55, "weights")["origin"] == 0x11000000
    assert region(m55, "arena")["name"] == "sram"


def test_budgets_sum_the_regions_by_what_they_hold():
    # DTCM (stack, arena) + SRAM1 (arena overflow, data); SRAM2 holds nothing of tinyrt's
    assert budgets(load_board("nucleo-f746zg")) == {"flash": 1 << 20, "sram": (64 + 240) << 10}
    assert budgets(load_board("qemu-m55")) == {"flash": (512 + 2048) << 10, "sram": 512 << 10}
    assert budgets(load_board("rpi-pico"))["sram"] == 264 << 10


def test_the_memory_sizes_match_the_silicon():
    sizes = {b: budgets(load_board(b)) for b in ("nucleo-l4r5zi", "nrf52840dk")}
    assert sizes["nucleo-l4r5zi"] == {"flash": 2 << 20, "sram": 640 << 10}
    assert sizes["nrf52840dk"] == {"flash": 1 << 20, "sram": 256 << 10}


def test_validation_does_not_modify_the_board():
    board = raw("qemu-m55")
    before = copy.deepcopy(board)
    validate(board, "qemu-m55.toml")
    assert board == before

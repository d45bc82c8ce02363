"""Serial ports are named after the probe or board they belong to (USB VID/PID), and a real
board's port is found after flashing. The OS listing is faked with pyserial's own ListPortInfo
records (what `serial.tools.list_ports.comports()` returns on a machine with those devices)."""
import json
import subprocess
import sys

import pytest
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from tinyrt import ports
from tinyrt.boards import load_board
from tinyrt.cli import main
from tinyrt.errors import TinyrtError


def usb(device, vid, pid, serial, product="USB serial"):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number, info.product = vid, pid, serial, product
    return info


STLINK = usb("/dev/ttyACM0", 0x0483, 0x374B, "066DFF575251717867183439", "STM32 STLink")
STLINK_V3 = usb("/dev/ttyACM1", 0x0483, 0x374E, "003A00293133510F37363734", "STLINK-V3")
DAPLINK = usb("/dev/ttyACM2", 0x0D28, 0x0204, "0240000032044e45001b700ddd", "DAPLink CMSIS-DAP")
JLINK = usb("/dev/ttyACM3", 0x1366, 0x1015, "000683412345", "J-Link")
PICO_DEBUGPROBE = usb("/dev/ttyACM4", 0x2E8A, 0x000C, "E6616407E3646B29", "Debug Probe (CMSIS-DAP)")
PICO_CDC = usb("/dev/ttyACM5", 0x2E8A, 0x000A, "E660583883316D2F", "Pico")
NRF_USB = usb("/dev/ttyACM6", 0x1915, 0x520F, "C9E2A0B1F7D1", "nRF52 USB CDC")
FTDI = usb("/dev/ttyUSB0", 0x0403, 0x6001, "A50285BI", "FT232R USB UART")
BUILTIN = ListPortInfo("/dev/ttyS0", skip_link_detection=True)


@pytest.fixture
def attached(monkeypatch):
    """Set what the OS lists as serial ports."""
    def attach(*infos):
        monkeypatch.setattr(list_ports, "comports", lambda *a, **k: list(infos))
    return attach


@pytest.mark.parametrize("info,kind,what", [
    (STLINK, "stlink", "ST-LINK/V2-1"), (STLINK_V3, "stlink", "STLINK-V3E"),
    (DAPLINK, "daplink", "DAPLink CMSIS-DAP"), (JLINK, "jlink", "SEGGER J-Link"),
    (PICO_DEBUGPROBE, "rpi-debugprobe", "Raspberry Pi Debug Probe (CMSIS-DAP)"),
    (PICO_CDC, "pico", "Raspberry Pi Pico (Pico SDK USB serial)"),
    (NRF_USB, "nordic", "Nordic nRF USB"), (FTDI, None, "FT232R USB UART"),
])
def test_a_port_is_named_after_its_probe_by_usb_vid_pid(info, kind, what):
    port = ports.describe(info)
    assert (port.probe, port.what, port.serial_number) == (kind, what, info.serial_number)


def test_a_daplink_names_its_board_from_the_board_id_its_serial_number_starts_with():
    assert ports.describe(DAPLINK).board == "FRDM-K64F"       # board id 0240


def test_usb_ports_are_listed_first_and_non_usb_ones_are_kept(attached):
    attached(BUILTIN, JLINK, STLINK)
    assert [p.device for p in ports.list_ports()] == ["/dev/ttyACM0", "/dev/ttyACM3", "/dev/ttyS0"]


def test_tinyrt_ports_prints_a_table_and_json_with_serial_numbers(attached, capsys):
    attached(STLINK, PICO_DEBUGPROBE, BUILTIN)
    assert main(["ports"]) == 0
    out = capsys.readouterr().out
    assert "/dev/ttyACM0  0483:374b  stlink" in out and "066DFF575251717867183439" in out
    assert main(["ports", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["ports"]
    assert listed[1] == {"device": "/dev/ttyACM4", "vid": 0x2E8A, "pid": 0x000C,
                         "serial_number": "E6616407E3646B29", "probe": "rpi-debugprobe",
                         "what": "Raspberry Pi Debug Probe (CMSIS-DAP)", "board": None,
                         "usb_id": "2e8a:000c"}


def test_tinyrt_ports_runs_on_this_machine_as_it_is():
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "ports", "--json", "-"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert isinstance(json.loads(proc.stdout)["ports"], list)


@pytest.mark.parametrize("board,kinds", [
    ("nucleo-f746zg", ("stlink",)), ("nucleo-l4r5zi", ("stlink",)),
    ("nrf52840dk", ("jlink", "daplink")), ("rpi-pico", ("rpi-debugprobe", "pico")),
])
def test_each_real_board_knows_which_probes_carry_its_console(board, kinds):
    assert ports.probe_kinds(load_board(board)) == kinds


def test_a_board_file_may_name_its_probe():
    board = load_board("nucleo-f746zg")
    board = {**board, "flash": {**board["flash"], "probe": "daplink"}}
    assert ports.probe_kinds(board) == ("daplink",)


def test_a_probe_kind_the_board_file_gets_wrong_is_a_clear_error():
    board = load_board("nucleo-f746zg")
    with pytest.raises(TinyrtError, match="flash.probe = 'st-link' is not a probe kind"):
        ports.probe_kinds({**board, "flash": {**board["flash"], "probe": "st-link"}})


def test_the_board_port_is_the_only_one_of_its_probe_kind():
    listing = [ports.describe(i) for i in (FTDI, JLINK, STLINK, BUILTIN)]
    assert ports.find_board_port(load_board("nucleo-f746zg"), ports=listing) == "/dev/ttyACM0"
    assert ports.find_board_port(load_board("nrf52840dk"), ports=listing) == "/dev/ttyACM3"


def test_the_probe_pyocd_flashed_through_picks_the_port_among_several():
    listing = [ports.describe(i) for i in (STLINK, STLINK_V3)]
    board = load_board("nucleo-l4r5zi")
    assert ports.find_board_port(board, STLINK_V3.serial_number, listing) == "/dev/ttyACM1"


def test_a_jlink_serial_number_matches_pyocds_without_the_zero_padding():
    other = usb("/dev/ttyACM7", 0x1366, 0x1015, "000683999999", "J-Link")
    listing = [ports.describe(i) for i in (JLINK, other)]
    assert ports.find_board_port(load_board("nrf52840dk"), "683412345", listing) == "/dev/ttyACM3"


def test_several_candidate_ports_are_listed_with_a_port_option_for_each():
    listing = [ports.describe(i) for i in (STLINK, STLINK_V3)]
    with pytest.raises(TinyrtError) as e:
        ports.find_board_port(load_board("nucleo-f746zg"), ports=listing)
    assert "several serial ports could be nucleo-f746zg's" in e.value.message
    assert "066DFF575251717867183439" in e.value.message
    assert e.value.hints[:2] == ["--port /dev/ttyACM0", "--port /dev/ttyACM1"]


def test_no_port_of_the_boards_probe_says_which_ports_were_seen():
    listing = [ports.describe(i) for i in (FTDI, BUILTIN)]
    with pytest.raises(TinyrtError) as e:
        ports.find_board_port(load_board("nucleo-f746zg"), ports=listing)
    assert "no serial port belongs to a stlink probe" in e.value.message
    assert "/dev/ttyUSB0 (FT232R USB UART, 0403:6001" in e.value.message
    assert any("--port" in h for h in e.value.hints)


def test_the_port_is_polled_until_a_reset_probe_comes_back(attached, monkeypatch):
    listings = iter([[BUILTIN], [BUILTIN], [BUILTIN, STLINK]])
    monkeypatch.setattr(list_ports, "comports", lambda *a, **k: next(listings))
    assert ports.find_board_port(load_board("nucleo-f746zg"), wait_s=5) == "/dev/ttyACM0"

"""Every flow that reaches a real board finds its console port in one place,
``BoardTarget.locate`` (after flashing: ``BoardTarget.flash_and_locate``): `tinyrt deploy`,
`tinyrt deploy --protocol eembc` and `tinyrt monitor --board REAL` need no --port.

The OS listing is faked with pyserial's ListPortInfo records (as tests/test_ports.py), their
device a pty where a host build of the firmware really runs, so the flow goes on past the port
and talks to a firmware. The Pico is flashed by its real UF2 copy onto a folder laid out as its
bootloader drive."""
import pytest
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from firmware_project import small_model
from tinyrt import eembc, flash, hostdevice
from tinyrt.boards import load_board
from tinyrt.cli import main
from tinyrt.pipeline import BoardTarget, Built, DeployOptions, build, prepare, project_dir, write


def usb(device, vid, pid, serial, product):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number, info.product = vid, pid, serial, product
    return info


def stlink(device):
    return usb(device, 0x0483, 0x374B, "066DFF575251717867183439", "STM32 STLink")


def pico(device):
    return usb(device, 0x2E8A, 0x000A, "E660583883316D2F", "Pico")


@pytest.fixture
def attached(monkeypatch):
    """Set what the OS lists as serial ports."""
    def attach(*infos):
        monkeypatch.setattr(list_ports, "comports", lambda *a, **k: list(infos))
    return attach


def test_locate_finds_the_port_of_the_boards_probe_and_keeps_a_given_one(attached):
    attached(usb("/dev/ttyUSB0", 0x0403, 0x6001, "A50285BI", "FT232R"), stlink("/dev/ttyACM0"))
    target = BoardTarget(load_board("nucleo-f746zg"))
    assert target.locate(DeployOptions(quiet=True)).port == "/dev/ttyACM0"
    assert target.locate(DeployOptions(quiet=True, port="/dev/ttyACM9")).port == "/dev/ttyACM9"


def test_monitor_on_a_real_board_without_port_finds_it_on_the_probe(attached, tmp_path, capsys):
    with hostdevice.launch(small_model(), tmp_path / "fw") as running:
        attached(stlink(running.port))
        code = main(["monitor", "--board", "nucleo-f746zg", "--count", "2", "--interval", "0"])
    out = capsys.readouterr().out
    assert code == 0
    assert "invoke     2:" in out and "stack used" in out


def test_monitor_on_a_real_board_with_no_probe_attached_names_the_ports_seen(attached, capsys):
    attached(usb("/dev/ttyUSB0", 0x0403, 0x6001, "A50285BI", "FT232R"))
    assert main(["monitor", "--board", "nucleo-f746zg"]) == 1
    err = capsys.readouterr().err
    assert "no serial port belongs to a stlink probe" in err and "/dev/ttyUSB0" in err
    assert "Traceback" not in err


def uf2_drive(root):
    drive = root / "RPI-RP2"
    drive.mkdir(parents=True)
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\n")
    return drive


def test_eembc_on_a_real_board_flashes_then_the_runner_talks_on_its_port(
        attached, tmp_path, monkeypatch):
    """The host EEMBC firmware runs on a pty described as the Pico's USB serial port; serving the
    Pico flashes its UF2 image onto the drive, finds that port and the runner syncs there."""
    opts = DeployOptions(quiet=True)
    prepared = prepare(small_model(), load_board("host"), opts)
    opts = eembc.options_for(prepared, opts)
    drive = uf2_drive(tmp_path / "media")
    monkeypatch.setenv("TINYRT_UF2_MOUNTS", str(tmp_path / "media"))
    pico_board = load_board("rpi-pico")
    (tmp_path / "fw.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "fw.uf2").write_bytes(flash.uf2_image(pico_board, tmp_path / "fw.bin"))
    image = Built(tmp_path / "fw.elf", 1024, firmware=_Uf2(tmp_path / "fw.uf2"))
    with project_dir(prepared, opts) as project:
        write(prepared, project)
        host_built = build(prepared, project, opts)
        with eembc.serving(load_board("host"), host_built, opts) as host_port:
            attached(pico(host_port))
            with eembc.serving(pico_board, image, opts) as port, eembc.Runner(port) as dut:
                assert port == host_port
                assert dut.sync()   # `name%` answered as the runner expects
    assert (drive / "firmware.uf2").read_bytes() == (tmp_path / "fw.uf2").read_bytes()


class _Uf2:
    """The part of a firmware build a UF2 flash reads: its image."""
    def __init__(self, uf2):
        self.uf2 = uf2

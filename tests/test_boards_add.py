"""`tinyrt boards add`: a board file from a CMSIS-Pack device description, imported through
cmsis-pack-manager (``Cache.add_pack_from_path``), written to the user boards folder, listed by
`tinyrt boards`, built by `tinyrt build` and, for a part QEMU emulates, deployed bit-exact.

The packs are made here: a zip holding a PDSC for made-up parts. The user boards folder and the
pack cache are tmp_path folders (TINYRT_BOARDS, TINYRT_PACK_CACHE), never the real home."""
import json
import zipfile
from pathlib import Path

import pytest

from firmware_project import requires_arm_gcc, requires_qemu
from tinyrt import boardgen, firmware, packs
from tinyrt.boards import load_board
from tinyrt.cli import main
from tinyrt.device import deploy_device
from tinyrt.errors import TinyrtError
from tinyrt.examples import write_example

# A Cortex-M4 whose memory map is QEMU mps2-an386's (4 MB at 0, 4 MB at 0x20000000), one with
# netduinoplus2's (STM32F405: 1 MB flash at 0x08000000, 192 KB SRAM), and others.
DEVICES = """
<family Dfamily="Acme Series" Dvendor="Acme:999">
  <processor Dcore="Cortex-M4" Dfpu="SP_FPU" Dmpu="MPU" Dclock="25000000"/>
  <device Dname="ACME-M4Q">
    <memory id="IROM1" start="0x00000000" size="0x00400000" startup="1" default="1"/>
    <memory id="IRAM1" start="0x20000000" size="0x00400000" default="1"/>
  </device>
  <subFamily DsubFamily="ACM7">
    <processor Dcore="Cortex-M7" Dfpu="DP_FPU" Dclock="480000000"/>
    <device Dname="ACM7001">
      <memory name="ITCM" access="rwx" start="0x00000000" size="0x00010000"/>
      <memory name="FLASH" access="rx" start="0x08000000" size="0x00200000" startup="1" default="1"/>
      <memory name="DTCM" access="rwx" start="0x20000000" size="0x00020000" default="1"/>
      <memory name="AXISRAM" access="rwx" start="0x24000000" size="0x00080000" default="1"/>
      <algorithm name="Flash\\ACM7_2M.FLM" start="0x08000000" size="0x00200000" default="1"/>
    </device>
  </subFamily>
  <device Dname="ACM3300">
    <processor Dcore="Cortex-M33" Dfpu="NO_FPU" Ddsp="DSP" Dclock="64000000"/>
    <memory name="ROM_NS" access="rxn" start="0x00000000" size="0x00100000" startup="1" default="1"/>
    <memory name="ROM_S" access="rxs" start="0x10000000" size="0x00100000" startup="1" default="1"/>
    <memory name="RAM_NS" access="rwxn" start="0x20000000" size="0x00040000" default="1"/>
    <memory name="RAM_S" access="rwxs" start="0x30000000" size="0x00040000" default="1"/>
  </device>
  <device Dname="ACM5500">
    <processor Dcore="Cortex-M55" Dfpu="DP_FPU" Ddsp="DSP" Dmve="FP_MVE" Dclock="400000000"/>
    <memory name="ROM" access="rx" start="0x00000000" size="0x00200000" startup="1" default="1"/>
    <memory name="RAM" access="rwx" start="0x20000000" size="0x00100000" default="1"/>
  </device>
  <device Dname="ACM4405">
    <processor Dcore="Cortex-M4" Dfpu="SP_FPU" Dclock="168000000"/>
    <memory id="IROM1" start="0x08000000" size="0x00100000" startup="1" default="1"/>
    <memory id="IRAM1" start="0x20000000" size="0x00030000" default="1"/>
  </device>
  <device Dname="ACM0100">
    <processor Dcore="Cortex-M0+" Dfpu="NO_FPU" Dclock="48000000"/>
    <memory id="IROM1" start="0x00000000" size="0x00020000" startup="1" default="1"/>
    <memory id="IRAM1" start="0x20000000" size="0x00008000" default="1"/>
  </device>
  <device Dname="ACM1000">
    <processor Dcore="Cortex-M1"/>
    <memory id="IROM1" start="0x00000000" size="0x00020000" startup="1" default="1"/>
    <memory id="IRAM1" start="0x20000000" size="0x00008000" default="1"/>
  </device>
</family>
"""


def pdsc(devices: str, vendor="Acme", name="Acme_DFP", version="1.2.0") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<package schemaVersion="1.7.7">
  <vendor>{vendor}</vendor><name>{name}</name><description>test parts</description>
  <url>https://example.invalid/packs/</url>
  <releases><release version="{version}">this one</release><release version="1.0.0">older</release></releases>
  <devices>{devices}</devices>
</package>
"""


def make_pack(folder: Path, devices: str = DEVICES, **ref) -> Path:
    path = folder / "Acme.Acme_DFP.1.2.0.pack"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("Acme.Acme_DFP.pdsc", pdsc(devices, **ref))
        z.writestr("Flash/ACM7_2M.FLM", b"\x7fELF not really")
    return path


@pytest.fixture
def user(tmp_path, monkeypatch):
    """The user boards folder and the pack cache in tmp_path; a pack file to import."""
    monkeypatch.setenv("TINYRT_BOARDS", str(tmp_path / "boards"))
    monkeypatch.setenv("TINYRT_PACK_CACHE", str(tmp_path / "packs"))
    return make_pack(tmp_path)


def tinyrt(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_pack_import_reads_the_parts_through_cmsis_pack_manager(user):
    cache = packs.open_cache()
    pack = packs.import_pack(cache, user)
    assert (pack["vendor"], pack["name"], pack["version"]) == ("Acme", "Acme_DFP", "1.2.0")
    assert {"ACME-M4Q", "ACM7001", "ACM3300"} <= set(cache.index)  # cmsis-pack-manager's index
    assert Path(pack["pack"]).is_file()        # where Cache.pack_from_cache (and pyOCD) look
    m7 = packs.describe(cache, packs.lookup(cache, "acm7001", pack))
    assert (m7["core"], m7["fpu"], m7["clock_hz"]) == ("Cortex-M7", "dp", 480_000_000)
    assert m7["algorithms"] == ["Flash/ACM7_2M.FLM"]
    assert m7["memory"]["FLASH"] == {**m7["memory"]["FLASH"], "origin": 0x08000000,
                                     "length": 0x200000, "startup": True, "execute": True}


def test_processor_attributes_are_the_devices_own_not_its_familys(user):
    cache = packs.open_cache()
    packs.import_pack(cache, user)
    m33 = packs.describe(cache, cache.index["ACM3300"])
    assert (m33["fpu"], m33["dsp"], m33["mve"]) == ("none", True, "none")  # NO_FPU beats SP_FPU
    assert boardgen.isa(m33, "cortex-m33")[0] == {"features": ["dsp"], "fpu": "none",
                                                  "float_abi": "soft"}
    m55 = packs.describe(cache, cache.index["ACM5500"])
    assert boardgen.isa(m55, "cortex-m55")[0] == {
        "features": ["dsp", "fpu", "mve", "mve_fp"], "fpu": "auto", "float_abi": "hard"}
    memory, _ = boardgen.memory_map(m33)   # a TrustZone part boots Secure: the Secure aliases
    assert (memory["flash"]["origin"], memory["sram"]["origin"]) == (0x10000000, 0x30000000)


@requires_arm_gcc
def test_vendor_part_becomes_a_user_board_that_builds_firmware(user, tmp_path, capsys):
    code, out, err = tinyrt(capsys, "boards", "add", "--device", "ACM7001", "--pack", user,
                            "--console", "stm32_usart@0x40004800")
    assert code == 0, err
    assert (tmp_path / "boards" / "acm7001.toml").is_file()
    board = load_board("acm7001")
    assert (board["kind"], board["cpu"], board["fpu"], board["features"]) == \
        ("mcu", "cortex-m7", "fpv5-d16", ["dsp", "fpu"])
    # the startup ROM holds code; data, arena and stack go to the largest default RAM
    assert board["memory"]["flash"] == {"origin": 0x08000000, "length": 0x200000, "access": "rx"}
    assert board["memory"]["sram"]["origin"] == 0x24000000
    assert {"itcm", "dtcm"} <= set(board["memory"])
    assert board["flash"]["target"] == "acm7001" and Path(board["flash"]["pack"]).is_file()
    assert board["counter"]["kind"] == "dwt" and board["console"]["base"] == 0x40004800

    code, out, err = tinyrt(capsys, "boards", "--json", "-")
    listed = {b["id"]: b for b in json.loads(out)["boards"]}
    assert listed["acm7001"]["user"] is True and listed["qemu-m4"]["user"] is False

    model = write_example(tmp_path)
    code, out, err = tinyrt(capsys, "build", model, "--board", "acm7001", "-o", tmp_path / "p")
    assert code == 0, err
    assert (tmp_path / "p" / "build-acm7001" / "firmware.elf").is_file()


@requires_arm_gcc
def test_core_without_dwt_takes_a_board_layer_that_counts_with_systick(user, capsys):
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "ACM0100", "--pack", user,
                          "--console", "nrf_uart")
    assert code == 1 and "DWT, which a cortex-m0plus does not have" in err
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "ACM0100", "--pack", user,
                          "--console", "rp2040_uart")
    assert code == 0, err
    board = load_board("acm0100")
    assert board["counter"]["kind"] == "systick"
    assert "boot2" not in board["firmware"]   # rpi-pico's boot stage runs only from 0x10000000


@requires_qemu
@requires_arm_gcc
@pytest.mark.qemu
def test_part_qemu_emulates_deploys_end_to_end_bit_exact(user, tmp_path, capsys):
    code, out, err = tinyrt(capsys, "boards", "add", "--device", "ACME-M4Q", "--pack", user,
                            "--qemu", "mps2-an386", "--name", "acme-q")
    assert code == 0, err
    board = load_board("acme-q")
    assert (board["kind"], board["cpu"], board["features"]) == ("qemu", "cortex-m4", ["dsp", "fpu"])
    report = deploy_device(str(write_example(tmp_path)), board, runs=3, quiet=True)
    assert report["board"] == "acme-q"
    assert report["bit_exact_runs"] == report["runs"] == 3


def test_unknown_part_names_the_closest(user, capsys):
    tinyrt(capsys, "boards", "add", "--device", "ACM7001", "--pack", user, "--console", "nrf_uart")
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "ACM7010", "--offline")
    assert code == 1
    assert "error: unknown part 'ACM7010'" in err and "did you mean ACM7001" in err
    assert "--pack FILE" in err and "Traceback" not in err


def test_pack_without_the_part_lists_what_it_describes(user, capsys):
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "STM32F746ZGTx", "--pack", user,
                          "--console", "nrf_uart")
    assert code == 1
    assert f"pack {user} does not describe part 'STM32F746ZGTx'" in err
    assert "it describes: ACM0100, ACM1000, ACM3300" in err


def test_core_tinyrt_cannot_target_is_named_with_the_supported_ones(user, capsys):
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "ACM1000", "--pack", user,
                          "--console", "nrf_uart")
    assert code == 1
    assert "part ACM1000 has a Cortex-M1 core, which tinyrt cannot target" in err
    assert "supported cores: Cortex-M0, Cortex-M0+, Cortex-M3, Cortex-M4" in err


def test_existing_board_id_needs_force_and_builtin_ids_are_refused(user, capsys):
    args = ["boards", "add", "--device", "ACME-M4Q", "--pack", user, "--qemu", "mps2-an386"]
    assert tinyrt(capsys, *args)[0] == 0
    code, _, err = tinyrt(capsys, *args)
    assert code == 1 and "board 'acme-m4q' exists already" in err and "--force" in err
    assert tinyrt(capsys, *args, "--force")[0] == 0
    code, _, err = tinyrt(capsys, *args, "--name", "qemu-m4")
    assert code == 1 and "'qemu-m4' is a built-in board" in err


def test_a_part_outside_the_qemu_machines_memory_is_refused(user, capsys):
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "ACM7001", "--pack", user,
                          "--qemu", "mps2-an386")
    assert code == 1
    assert "ACM7001's flash 0x8000000-0x8200000 is not memory on QEMU machine mps2-an386" in err


def test_a_device_board_needs_a_console_with_a_board_layer(user, capsys):
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "ACM7001", "--pack", user)
    assert code == 1 and "a board needs its console" in err and "stm32_usart" in err
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "ACM7001", "--pack", user,
                          "--console", "pl011@0x40001000")
    assert code == 1 and "no built-in board has console kind 'pl011'" in err


def test_a_file_that_is_not_a_pack_is_a_clear_error(user, tmp_path, capsys):
    bad = tmp_path / "bad.pack"
    bad.write_text("not a zip")
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "X", "--pack", bad)
    assert code == 1 and "not a CMSIS-Pack (a .pack is a zip file)" in err


def test_offline_without_a_pack_says_the_index_could_not_be_downloaded(user, monkeypatch, capsys):
    # every download goes to a closed local port: no network is used
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "STM32F746ZGTx", "--console",
                          "stm32_usart")
    assert code == 1
    assert "could not download the CMSIS-Pack index (offline?)" in err and "--pack FILE" in err


def test_a_user_board_that_fails_validation_names_file_and_key(user, tmp_path, capsys):
    assert tinyrt(capsys, "boards", "add", "--device", "ACME-M4Q", "--pack", user,
                  "--qemu", "mps2-an386")[0] == 0
    good = tmp_path / "boards" / "acme-m4q.toml"
    broken = good.with_name("typo.toml")
    broken.write_text(good.read_text().replace('id = "acme-m4q"', 'id = "typo"')
                      .replace("alignment", "alinement"))
    code, out, err = tinyrt(capsys, "boards")
    assert code == 1
    assert f"{broken}: unknown key 'alinement'" in err and "did you mean 'alignment'" in err
    assert "acme-m4q" in out and "qemu-m4" in out      # the other boards are still listed
    code, _, err = tinyrt(capsys, "build", "m.tflite", "--board", "typo", "-o", tmp_path / "p")
    assert code == 1 and "unknown key 'alinement'" in err


def test_remove_deletes_a_user_board_only(user, tmp_path, capsys):
    tinyrt(capsys, "boards", "add", "--device", "ACME-M4Q", "--pack", user, "--qemu", "mps2-an386")
    assert tinyrt(capsys, "boards", "remove", "acme-m4q")[0] == 0
    assert not (tmp_path / "boards" / "acme-m4q.toml").exists()
    code, _, err = tinyrt(capsys, "boards", "remove", "qemu-m4")
    assert code == 1 and "built-in boards cannot be removed" in err


# --- the clock: the template's [clock] gives one clock; without it, the core's reset clock ------

def test_clock_hz_the_template_runs_at_keeps_its_clock_table(user, capsys):
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "ACM7001", "--pack", user,
                          "--console", "stm32_usart@0x40004800", "--clock-hz", 216_000_000)
    assert code == 0, err
    board = load_board("acm7001")
    assert board["clock_hz"] == 216_000_000 and board["clock"]["pll"]["n"] == 216


def test_clock_hz_at_the_reset_clock_leaves_out_the_clock_set_up(user, capsys):
    code, out, err = tinyrt(capsys, "boards", "add", "--device", "ACM7001", "--pack", user,
                            "--console", "stm32_usart@0x40004800", "--clock-hz", 16_000_000)
    assert code == 0, err
    board = load_board("acm7001")
    assert board["clock_hz"] == 16_000_000 and "clock" not in board
    assert "no [clock] (--clock-hz 16000000 is the reset clock)" in out


def test_another_clock_hz_is_refused_with_what_to_do(user, tmp_path, capsys):
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "ACM7001", "--pack", user,
                          "--console", "stm32_usart@0x40004800", "--clock-hz", 100_000_000)
    assert code == 1 and "Traceback" not in err
    assert ("error: --clock-hz 100,000,000: nucleo-f746zg's board layer runs the core at "
            "216,000,000 Hz (its [clock] PLL) or, without [clock], at its reset clock "
            "16,000,000 Hz") in err
    assert "try: --clock-hz 16000000: no clock set-up" in err and "edit [clock]" in err
    assert not (tmp_path / "boards" / "acm7001.toml").exists()


def test_a_part_slower_than_the_templates_clock_stays_on_its_reset_clock():
    template = load_board("nucleo-f746zg")   # its [clock]: 216 MHz from a 16 MHz reset clock
    assert boardgen.clock_for(template, 100_000_000, None)[:2] == (16_000_000, False)
    with pytest.raises(TinyrtError, match="above the part's maximum, 100,000,000 Hz"):
        boardgen.clock_for(template, 100_000_000, 216_000_000)
    # a faster part keeps the template's clock, within its rating
    assert boardgen.clock_for(template, 480_000_000, None)[:2] == (216_000_000, True)


@requires_qemu
@requires_arm_gcc
@pytest.mark.qemu
def test_a_board_at_its_reset_clock_runs_and_reports_that_clock(user, tmp_path, capsys):
    """netduinoplus2's template has a [clock] whose HSE wait times out under QEMU; without it the
    STM32 board layer starts no clock and reports the reset clock it was told: reached."""
    code, _, err = tinyrt(capsys, "boards", "add", "--device", "ACM4405", "--pack", user,
                          "--qemu", "netduinoplus2", "--clock-hz", 16_000_000)
    assert code == 0, err
    board = load_board("acm4405")
    assert "clock" not in board
    report = deploy_device(str(write_example(tmp_path)), board, runs=2, quiet=True)
    assert report["bit_exact_runs"] == report["runs"] == 2
    assert report["clock"] == {"rated_hz": 16_000_000, "running_hz": 16_000_000,
                               "reached": True, "note": None}


def test_the_generated_linker_script_names_the_board_file_it_came_from(user, tmp_path, capsys):
    assert tinyrt(capsys, "boards", "add", "--device", "ACME-M4Q", "--pack", user,
                  "--qemu", "mps2-an386")[0] == 0
    user_script = firmware.linker_script(load_board("acme-m4q"))
    assert f"generated by tinyrt from {tmp_path / 'boards' / 'acme-m4q.toml'}." in user_script
    assert "generated by tinyrt from boards/qemu-m4.toml." in \
        firmware.linker_script(load_board("qemu-m4"))

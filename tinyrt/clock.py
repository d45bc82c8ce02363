"""A board's clock tree and cycle counter as data: the ``[clock]`` table of a board file, checked
when the board loads, turned into the C macros the clock start-up code is built with, and the
comparison of the clock a running board reports (INFO ``clock_hz``) with the one it is rated for.

    [clock]
    source = "hse_bypass"          # what feeds the PLL (or the core, without one)
    source_hz = 8_000_000
    reset_hz = 16_000_000          # the core clock out of reset: where it stays if a wait times out
    pll = { m = 8, n = 432, p = 2, q = 9 }
    flash_wait_states = 7
    overdrive = true
    caches = ["icache", "dcache", "art", "prefetch"]
    apb1_div = 4
    apb2_div = 2

The PLL gives ``source_hz / m * n / (r or p) / p2``: ``r`` is the STM32L4's system output,
``p`` the STM32F4/F7's, ``p2`` the RP2040's second post divider (there m = REFDIV, n = FBDIV,
p = POSTDIV1). That must be the board's ``clock_hz`` exactly; without a PLL, ``source_hz`` is.
"""
from __future__ import annotations

from fractions import Fraction

from .errors import TinyrtError

SOURCES = ("hsi", "hse", "hse_bypass", "msi", "hsi16", "hfint", "hfxo", "rosc", "xosc")
CACHES = ("icache", "dcache", "art", "prefetch")
VOLTAGES = ("scale1", "range1")
AHB_DIVS = (1, 2, 4, 8, 16, 64, 128, 256, 512)
APB_DIVS = (1, 2, 4, 8, 16)
# Cores without the DWT cycle counter (Armv6-M, and the M23's DWT has none).
NO_DWT = ("cortex-m0", "cortex-m0plus", "cortex-m23")
# A bounded wait polls a peripheral register; one poll takes at least this many core cycles (a
# load over the peripheral bus, a compare, a taken branch), so the loop count below waits at
# least timeout_ms at the reset clock.
CYCLES_PER_POLL = 4
DEFAULT_TIMEOUT_MS = 100


def _schema():
    from .boards import Key  # boards imports this module: its Key only once both are loaded
    return {
        "source": Key(str, choices=SOURCES), "source_hz": Key(int), "reset_hz": Key(int),
        "pll": Key(dict, False, schema={"m": Key(int), "n": Key(int), "p": Key(int, False),
                                        "q": Key(int, False), "r": Key(int, False),
                                        "p2": Key(int, False)}),
        "flash_wait_states": Key(int, False), "voltage": Key(str, False, choices=VOLTAGES),
        "overdrive": Key(bool, False), "boost": Key(bool, False),
        "caches": Key(list, False, choices=CACHES),
        "ahb_div": Key(int, False, choices=AHB_DIVS), "apb1_div": Key(int, False, choices=APB_DIVS),
        "apb2_div": Key(int, False, choices=APB_DIVS), "timeout_ms": Key(int, False),
    }


def pll_hz(clock: dict) -> Fraction:
    """The core clock ``[clock]`` gives: the PLL's output, or the source itself."""
    pll = clock.get("pll")
    if pll is None:
        return Fraction(clock["source_hz"])
    out = pll.get("r") or pll.get("p")
    if not out:
        raise TinyrtError("[clock] pll needs p (STM32F4/F7, RP2040) or r (STM32L4): the divider of "
                          "the output that drives the core")
    return Fraction(clock["source_hz"], pll["m"]) * pll["n"] / out / pll.get("p2", 1)


def check(board: dict, where: str) -> None:
    """Raise TinyrtError for a ``[clock]`` table whose keys or values are wrong, or whose clock
    tree does not give the board's ``clock_hz``; and for a DWT counter on a core without one."""
    from .boards import _check_table
    if board["counter"]["kind"] == "dwt" and board["cpu"] in NO_DWT:
        raise TinyrtError(f"{where}: counter.kind 'dwt': a {board['cpu']} has no DWT cycle counter",
                          ["count with SysTick (counter.kind = \"systick\") or a timer"])
    clock = board.get("clock")
    if clock is None:
        return
    if not isinstance(clock, dict):
        raise TinyrtError(f"{where}: 'clock' must be a table")
    _check_table(clock, _schema(), where, "clock.")
    for key in ("source_hz", "reset_hz", "flash_wait_states", "timeout_ms"):
        if clock.get(key, 1) < (0 if key == "flash_wait_states" else 1):
            raise TinyrtError(f"{where}: clock.{key} = {clock[key]} is out of range")
    for key, value in clock.get("pll", {}).items():
        if value < 1:
            raise TinyrtError(f"{where}: clock.pll.{key} must be at least 1")
    try:
        gives = pll_hz(clock)
    except TinyrtError as e:
        raise TinyrtError(f"{where}: {e.message}") from None
    if gives != board["clock_hz"]:
        raise TinyrtError(f"{where}: clock_hz = {board['clock_hz']:,} but [clock] gives "
                          f"{float(gives):,.0f} Hz", ["clock_hz is the clock the core runs at: "
                                                      "make the two agree"])


def _bits(prefix: str, names) -> dict[str, str]:
    return {f"{prefix}_{str(n).upper()}": "1" for n in names}


def defines(board: dict) -> dict[str, str]:
    """The C macros of ``[clock]`` (none without it): TR_CLOCK=1, TR_CLOCK_SOURCE_<S>=1,
    TR_CLOCK_SOURCE_HZ, TR_CLOCK_RESET_HZ, TR_CLOCK_PLL_<K>, TR_CLOCK_FLASH_WAIT_STATES,
    TR_CLOCK_VOLTAGE_<V>=1, TR_CLOCK_OVERDRIVE/BOOST (1/0), TR_CLOCK_CACHE_<C>=1, the bus
    dividers (default 1) and TR_CLOCK_TIMEOUT_LOOPS (polls of one bounded wait)."""
    clock = board.get("clock")
    if clock is None:
        return {}
    out = {"TR_CLOCK": "1", **_bits("TR_CLOCK_SOURCE", [clock["source"]]),
           "TR_CLOCK_SOURCE_HZ": f"{clock['source_hz']}u", "TR_CLOCK_RESET_HZ": f"{clock['reset_hz']}u"}
    out.update({f"TR_CLOCK_PLL_{k.upper()}": f"{v}u" for k, v in clock.get("pll", {}).items()})
    if "flash_wait_states" in clock:
        out["TR_CLOCK_FLASH_WAIT_STATES"] = f"{clock['flash_wait_states']}u"
    if "voltage" in clock:
        out.update(_bits("TR_CLOCK_VOLTAGE", [clock["voltage"]]))
    out["TR_CLOCK_OVERDRIVE"] = "1" if clock.get("overdrive") else "0"
    out["TR_CLOCK_BOOST"] = "1" if clock.get("boost") else "0"
    out.update(_bits("TR_CLOCK_CACHE", clock.get("caches", [])))
    for bus in ("ahb", "apb1", "apb2"):
        out[f"TR_CLOCK_{bus.upper()}_DIV"] = f"{clock.get(f'{bus}_div', 1)}u"
    ms = clock.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    out["TR_CLOCK_TIMEOUT_LOOPS"] = f"{clock['reset_hz'] // 1000 * ms // CYCLES_PER_POLL}u"
    return out


def status(board: dict, running_hz: int) -> dict:
    """What the deploy report says of the clock: the rated clock, the one the board reports it
    runs at, and whether it reached it. A board whose clock start-up timed out reports its
    reset clock instead (firmware/clock.h)."""
    rated = board.get("clock_hz", 0)
    reached = running_hz == rated or not rated
    note = None
    if not reached:
        reset = board.get("clock", {}).get("reset_hz")
        what = "its reset clock" if running_hz == reset else "a clock"
        note = (f"board {board['id']} runs at {what} ({running_hz / 1e6:g} MHz), not its rated "
                f"{rated / 1e6:g} MHz: a clock start-up wait timed out (docs/boards.md, Clocks)")
    return {"rated_hz": rated, "running_hz": running_hz, "reached": reached, "note": note}

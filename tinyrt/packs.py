"""CMSIS-Pack device descriptions, read through cmsis-pack-manager (the library pyOCD uses).

A part is looked up in cmsis-pack-manager's device index: the packs a user imported
(``import_pack``: a ``.pack`` file, the zip a vendor publishes, or its bare ``.pdsc``), the packs
pyOCD installed, or the public pack index when online (``update_index``). ``describe`` turns an
index entry into plain data: the core and its FPU, DSP and MVE, the maximum clock, the memory
regions with their access and startup/default flags, and the flash algorithms.

The index's processor entry misses what tinyrt needs most (it has no DSP, MVE or clock, and it
reads ``Dfpu="NO_FPU"`` as "unknown", so a device inherits its family's FPU), so the processor
attributes are read from the device's own PDSC, family -> subFamily -> device -> variant, each
level overriding the one above as the PDSC format says.

The cache folder is ``$TINYRT_PACK_CACHE``, else cmsis-pack-manager's default one, which pyOCD
shares: a pack imported here gives pyOCD the part as a target, and parts pyOCD knows are found
here offline.
"""
from __future__ import annotations

import difflib
import os
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from .errors import TinyrtError

FPU = {"FPU": "sp", "SP_FPU": "sp", "1": "sp", "DP_FPU": "dp", "2": "dp"}
MVE = {"MVE": "int", "FP_MVE": "fp"}
PACK_HINT = ("download the part's Device Family Pack (.pack) from https://www.keil.arm.com/packs/ "
             "and pass --pack FILE")


def cache_dir() -> Path:
    if os.environ.get("TINYRT_PACK_CACHE"):
        return Path(os.environ["TINYRT_PACK_CACHE"]).expanduser()
    from appdirs import user_data_dir  # cmsis-pack-manager's own choice of folder
    return Path(user_data_dir("cmsis-pack-manager"))


def open_cache(folder: Path | None = None):
    """A cmsis-pack-manager Cache on ``folder`` (created: the library does not)."""
    try:
        from cmsis_pack_manager import Cache
    except ImportError:
        raise TinyrtError("cmsis-pack-manager is not installed",
                          ["make setup (or .venv/bin/pip install cmsis-pack-manager)"]) from None
    folder = Path(folder or cache_dir())
    folder.mkdir(parents=True, exist_ok=True)
    return Cache(True, True, json_path=str(folder), data_path=str(folder))


def _read_pdsc(path: Path) -> str:
    """The PDSC text of a ``.pack`` (zip) or of a bare ``.pdsc``."""
    if not path.is_file():
        raise TinyrtError(f"pack file '{path}' does not exist")
    if path.suffix.lower() == ".pdsc":
        return path.read_text(encoding="utf-8", errors="replace")
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.lower().endswith(".pdsc")]
            if not names:
                raise TinyrtError(f"{path}: a CMSIS-Pack holds a .pdsc description; this one has none")
            return z.read(min(names, key=lambda n: n.count("/"))).decode("utf-8", "replace")
    except zipfile.BadZipFile:
        raise TinyrtError(f"{path}: not a CMSIS-Pack (a .pack is a zip file)",
                          ["pass the .pack file as downloaded, or its .pdsc"]) from None


def _parse(text: str, where: str) -> ET.Element:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise TinyrtError(f"{where}: the PDSC is not valid XML: {e}") from None
    if root.tag != "package":
        raise TinyrtError(f"{where}: the PDSC's root element is <{root.tag}>, not <package>")
    return root


def pack_ref(root: ET.Element, where: str) -> dict:
    """Vendor, name and version (the first release, as cmsis-pack-manager takes it)."""
    release = root.find("releases/release")
    ref = {"vendor": root.findtext("vendor"), "name": root.findtext("name"),
           "version": release.get("version") if release is not None else None}
    missing = [k for k, v in ref.items() if not v]
    if missing:
        raise TinyrtError(f"{where}: the PDSC gives no {missing[0]} (<package> needs <vendor>, "
                          f"<name> and <releases><release version=...>)")
    return {k: v.strip() for k, v in ref.items()}


def pdsc_processors(root: ET.Element) -> dict[str, dict]:
    """Per device (and variant) name, its processor attributes inherited down the tree."""
    out: dict[str, dict] = {}

    def walk(elem: ET.Element, inherited: dict) -> None:
        proc = elem.find("processor")
        attrs = {**inherited, **(proc.attrib if proc is not None else {})}
        name = elem.get("Dname") or elem.get("Dvariant")
        if elem.tag in ("device", "variant") and name:
            out[name] = attrs
        for child in elem:
            if child.tag in ("subFamily", "device", "variant"):
                walk(child, attrs)

    for family in root.iter("family"):
        walk(family, {})
    return out


def import_pack(cache, path: str | os.PathLike) -> dict:
    """Add a pack file to the cache: its PDSC goes where ``Cache.pdsc_from_cache`` finds it, a
    ``.pack`` where ``Cache.pack_from_cache`` (and pyOCD) finds it, and cmsis-pack-manager indexes
    its devices. Returns the pack's vendor, name, version, stored files and device names."""
    path = Path(path)
    text = _read_pdsc(path)
    root = _parse(text, str(path))
    ref = pack_ref(root, str(path))
    parts = sorted(pdsc_processors(root))
    if not parts:
        raise TinyrtError(f"{path}: the pack describes no device (<devices><family><device>)")
    data = Path(cache.data_path)
    pdsc = data / f"{ref['vendor']}.{ref['name']}.{ref['version']}.pdsc"
    pdsc.write_text(text, encoding="utf-8")
    stored_pack = None
    if path.suffix.lower() != ".pdsc":
        stored_pack = data / ref["vendor"] / ref["name"] / f"{ref['version']}.pack"
        stored_pack.parent.mkdir(parents=True, exist_ok=True)
        if path.resolve() != stored_pack.resolve():
            shutil.copyfile(path, stored_pack)
    cache.add_pack_from_path(str(pdsc))
    cache._index = {}  # the Cache keeps the index it read; the next look-up reads the new one
    return {**ref, "file": str(path), "pdsc": str(pdsc),
            "pack": str(stored_pack) if stored_pack else None, "parts": parts}


def update_index(cache) -> int:
    """Download the public pack index's descriptions (what `pyocd pack update` does; ~15 MB).
    cmsis-pack-manager reports no failure, so an index still empty afterwards means offline."""
    before = len(cache.index)
    try:
        cache.cache_descriptors()
    except Exception as e:  # the library raises bare Exceptions with Rust's message
        raise TinyrtError(f"could not download the CMSIS-Pack index: {e}", [PACK_HINT]) from None
    cache._index = {}
    after = len(cache.index)
    if after == 0:
        raise TinyrtError("could not download the CMSIS-Pack index (offline?)",
                          [PACK_HINT, "or `pyocd pack install PART` on a machine that is online"])
    return after - before


def lookup(cache, part: str, pack: dict | None = None) -> dict:
    """The index entry of ``part`` (exact name, else the only case-insensitive match); within
    ``pack`` when given. TinyrtError with the closest names otherwise."""
    index = cache.index
    names = [n for n in index if pack is None or _from(index[n], pack)]
    if pack is not None and not names:
        raise TinyrtError(f"cmsis-pack-manager indexed no device of {pack['file']}",
                          ["check the PDSC: every device needs a <processor Dcore=...> and a family"])
    found = part if part in names else None
    if found is None:
        same = [n for n in names if n.lower() == part.lower()]
        found = same[0] if len(same) == 1 else None
    if found is not None:
        return index[found]
    upper = {n.upper(): n for n in names}  # closest first, in the index's spelling
    close = [upper[n] for n in difflib.get_close_matches(part.upper(), upper, n=4, cutoff=0.6)]
    hints = [f"did you mean {', '.join(close)}?"] if close else []
    if pack is not None:
        raise TinyrtError(f"pack {pack['file']} does not describe part '{part}'",
                          hints + [f"it describes: {_few(names)}"])
    raise TinyrtError(f"unknown part '{part}' ({len(names)} parts in the CMSIS-Pack cache)",
                      hints + [PACK_HINT])


def _from(entry: dict, pack: dict) -> bool:
    src = entry.get("from_pack", {})
    return (src.get("vendor"), src.get("pack"), src.get("version")) == \
        (pack["vendor"], pack["name"], pack["version"])


def _few(names: list[str], n: int = 8) -> str:
    names = sorted(names)
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def describe(cache, entry: dict) -> dict:
    """Plain data for one index entry, the processor attributes from the device's PDSC."""
    src = entry["from_pack"]
    pdsc = Path(cache.data_path) / f"{src['vendor']}.{src['pack']}.{src['version']}.pdsc"
    if not pdsc.is_file():
        raise TinyrtError(f"the description of {entry['name']} ({pdsc.name}) is not in the pack "
                          f"cache {cache.data_path}", [PACK_HINT])
    procs = pdsc_processors(_parse(pdsc.read_text(encoding="utf-8", errors="replace"), str(pdsc)))
    attrs = procs.get(entry["name"], {})
    pack = Path(cache.data_path) / src["vendor"] / src["pack"] / f"{src['version']}.pack"
    return {
        "part": entry["name"], "vendor": (entry.get("vendor") or src["vendor"]).split(":")[0],
        "family": entry.get("family"),
        "pack": {"vendor": src["vendor"], "name": src["pack"], "version": src["version"],
                 "pdsc": str(pdsc), "file": str(pack) if pack.is_file() else None},
        "core": attrs.get("Dcore") or _index_core(entry),
        "fpu": FPU.get(attrs.get("Dfpu", ""), "none"),
        "dsp": attrs.get("Ddsp") == "DSP",
        "mve": MVE.get(attrs.get("Dmve", ""), "none"),
        "clock_hz": int(attrs["Dclock"]) if attrs.get("Dclock", "").isdigit() else None,
        "memory": {name: _memory(m) for name, m in entry.get("memories", {}).items()},
        "algorithms": [a["file_name"] for a in entry.get("algorithms", [])
                       if a.get("default", True)] or
                      [a["file_name"] for a in entry.get("algorithms", [])],
    }


def _index_core(entry: dict) -> str | None:
    """cmsis-pack-manager's core name (``CortexM0Plus``) in the PDSC's spelling."""
    procs = entry.get("processors") or [{}]
    core = procs[0].get("core")
    return core.replace("Cortex", "Cortex-").replace("Plus", "+") if core else None


def _memory(m: dict) -> dict:
    acc = m.get("access", {})
    return {"origin": int(m["start"]), "length": int(m["size"]),
            "read": acc.get("read", True), "write": acc.get("write", False),
            "execute": acc.get("execute", False), "peripheral": acc.get("peripheral", False),
            "secure": acc.get("secure", False), "non_secure": acc.get("non_secure", False),
            "startup": bool(m.get("startup")), "default": bool(m.get("default"))}

"""`tinyrt ports [--json [FILE]]`: the serial ports, with the debug probe or board each belongs
to (by USB VID/PID) and its serial number, the one `--probe` takes."""
from __future__ import annotations

from ..ports import list_ports
from ..table import table
from .common import write_json


def register(sub) -> None:
    p = sub.add_parser("ports", help="list serial ports and the probe or board each belongs to")
    p.add_argument("--json", metavar="FILE", nargs="?", const="-",
                   help="also write the list as JSON (no FILE or '-': stdout)")
    p.set_defaults(func=run)


def run(args) -> int:
    ports = list_ports()
    rows = [[p.device, p.usb_id, p.probe or "-", p.what, p.board or "-", p.serial_number or "-"]
            for p in ports]
    if rows:
        print(table(["port", "usb id", "probe", "what", "board", "serial number"], rows))
    else:
        print("no serial ports")
    write_json(args.json, {"ports": [p.as_dict() for p in ports]})
    return 0

"""`tinyrt deploy MODEL [--board B]`: build, run on the board, check every output against
tflite-runtime and report latency, memory and flash."""
from __future__ import annotations

from ..boards import load_board
from ..pipeline import deploy
from ..table import table
from .common import (add_board, add_compute, add_input_copy, add_json, add_kernels, add_model,
                     add_patch, add_protocol, add_quiet, options, write_json)


def register(sub) -> None:
    p = sub.add_parser("deploy", help="build, run and verify a model on a board")
    add_model(p)
    add_board(p)
    add_kernels(p)
    add_patch(p)
    p.add_argument("--runs", type=int, default=10, help="number of inputs to check (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--inputs", metavar="NPY", help=".npy/.npz of real inputs instead of random ones")
    p.add_argument("--port", help="serial port or pyserial URL of a running board")
    p.add_argument("--probe", metavar="UID", help="real boards: the debug probe to flash through "
                   "when several are attached (`pyocd list`; its serial port is then the board's)")
    p.add_argument("--profile", action="store_true", help="per-layer latency")
    p.add_argument("--dry-run", action="store_true", help="print the build and flash commands only")
    p.add_argument("--work-dir", metavar="DIR", help="keep the generated project here")
    add_input_copy(p)
    add_compute(p)
    add_protocol(p)
    add_json(p)
    add_quiet(p)
    p.set_defaults(func=run)


def format_report(r: dict) -> str:
    rows = [["board", r["board"]], ["compute", r.get("compute", "")],
            ["runs bit-exact", f"{r['bit_exact_runs']}/{r['runs']}"]]
    if r["matching_runs"] != r["bit_exact_runs"] or r.get("compute") == "fp16":
        from ..verify import tolerance
        rtol, atol = tolerance(r.get("compute", "fp32"))
        rule = "FP16 rule" if r.get("compute") == "fp16" else "float rule"
        rows.append(["runs within float tolerance", f"{r['matching_runs']}/{r['runs']} "
                     f"({rule}: |diff| <= {rtol:g} * max|ref| + {atol:g})"])
    mem = r["memory"]
    elf = r.get("sections", {}).get("arena")
    rows.append(["arena", f"{mem['arena_bytes']:,} B" + (
        "" if elf is None else f" planned, {elf:,} B in the ELF")])
    if r.get("stages"):
        rows.append(["streamed", ", ".join(f"ops {a}..{b}" for a, b in r["stages"])
                     + " row by row (--patch)"])
    if "stack_bytes" in mem:
        rows.append(["stack (painted)", f"{mem['stack_bytes']:,} B"])
        copy = mem.get("input_copy_bytes")
        rows.append(["peak SRAM", f"{mem['peak_sram_bytes']:,} B (arena + stack + "
                                  f"{mem['static_ram_bytes']:,} B other static RAM"
                     + (f", of which the input copy {copy:,} B)" if copy else ")")])
    rows.append(["flash", f"{r['flash_bytes']:,} B (weights {r['weights_bytes']:,} B)"])
    lat = r.get("latency")
    if lat:
        rows.append(["latency", f"{lat['cycles_median']:,} {lat['unit']}"
                     + (f" ({lat['ms']:.3f} ms)" if lat.get("ms") is not None else "")])
    rows.append(["MACs", f"{r['macs']:,}"])
    rows.append(["ops", ", ".join(f"{k} x{v}" for k, v in sorted(r["ops"].items()))])
    if r.get("eembc"):
        from ..eembc import format_section
        rows += format_section(r["eembc"])
    text = table(["", r["model"]], rows)
    if r.get("layers"):
        text += "\n\n" + format_profile(r["layers"], lat["unit"] if lat else "count")
    return text


def format_profile(layers: list[dict], unit: str) -> str:
    per = "MACs/instr" if unit == "emulated_instructions" else f"MACs/{unit.rstrip('s')}"
    rows = [[l["index"], l["op"], l["kernel"], l["variant"], "x".join(map(str, l["output_shape"])),
             l["macs"], l["cycles"], "" if l["macs_per_cycle"] is None or not l["macs"]
             else f"{l['macs_per_cycle']:.2f}", f"{100 * l['share']:.1f}%"] for l in layers]
    return table(["#", "op", "kernel", "variant", "output", "MACs", unit, per, "share"], rows,
                 title="per layer")


def run(args) -> int:
    opts = options(args)
    if opts.protocol == "eembc":
        from ..eembc import deploy as deploy_eembc
        report = deploy_eembc(args.model, load_board(args.board), opts)
    else:
        report = deploy(args.model, load_board(args.board), opts)
    if report is None:   # --dry-run printed the commands
        return 0
    print(format_report(report))
    write_json(args.json, report)
    bad = report["runs"] - report["matching_runs"]
    if bad:
        print(f"error: {bad} of {report['runs']} outputs differ from tflite-runtime "
              "(integer outputs must be byte-equal, float ones within the tolerance)", flush=True)
        return 1
    return 0

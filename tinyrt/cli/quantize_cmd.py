"""`tinyrt quantize FLOAT.tflite --calib DATA -o INT8.tflite`: post-training int8 quantisation,
then a per-layer report against the float model."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .. import quantize as q
from ..boards import load_board
from ..errors import TinyrtError
from ..frontend import read_tflite
from ..quantize.data import load_labels, load_samples
from ..quantize.mixed import check_fp16_layers
from ..quantize.observers import METHODS
from ..quantize.prepare import compact, prepare_float
from ..quantize.report import compare, format_report, short_name
from ..reference import Reference
from ..writer import write_tflite
from .common import add_json, add_model, add_quiet, write_json


def register(sub) -> None:
    p = sub.add_parser("quantize", help="quantise a float .tflite to full-integer int8 (or FP16)")
    add_model(p)
    p.add_argument("--dtype", choices=("int8", "fp16"), default="int8",
                   help="int8 (default): full-integer; fp16: float16 weights, float compute "
                        "(no calibration; docs/fp16.md)")
    p.add_argument("--calib", metavar="DATA",
                   help="representative inputs: .npy / .npz, or a folder of them (int8)")
    p.add_argument("-o", "--output", metavar="INT8.tflite",
                   help="where to write the int8 model (default: ./<model>_int8.tflite)")
    p.add_argument("--method", choices=METHODS, default="minmax",
                   help="activation ranges: minmax (default), percentile, or mse "
                        "(the range that minimises the quantisation error)")
    p.add_argument("--percentile", type=float, default=99.99,
                   help="for --method percentile (default 99.99)")
    p.add_argument("--bias-correction", action="store_true",
                   help="fold the mean error weight rounding adds into the biases")
    p.add_argument("--per-channel-fc", action="store_true",
                   help="per-channel FULLY_CONNECTED weights (tflite-runtime >= 2.14, "
                        "not in the int8 spec)")
    p.add_argument("--float-io", action="store_true",
                   help="keep float32 input/output (QUANTIZE/DEQUANTIZE at the ends)")
    p.add_argument("--fp16-layers", metavar="NAMES",
                   help="mixed precision: keep these layers in FP16 (float16 weights, FP32 "
                        "compute), the rest int8; comma-separated op names or '#N' op indices "
                        "as --sensitivity lists them")
    p.add_argument("--keep-fp16", metavar="K", type=int,
                   help="mixed precision: keep up to K layers in FP16, chosen on the held-out "
                        "inputs (see --search)")
    p.add_argument("--search", choices=("greedy", "rank"), default="greedy",
                   help="with --keep-fp16: greedy (default) adds, one at a time, the layer whose "
                        "executable mixed model gains most, and stops when none helps; rank "
                        "takes the K first of the sensitivity ranking")
    p.add_argument("--max-arena", metavar="BYTES", type=int,
                   help="with --keep-fp16 and the greedy search: the largest arena the mixed "
                        "model may plan (default: the all-int8 model's)")
    p.add_argument("--board", default="qemu-m4",
                   help="board whose memory plan the mixed-precision costs are figured for "
                        "(default qemu-m4)")
    p.add_argument("--latency", action="store_true",
                   help="mixed precision: also deploy the all-int8 and the mixed model on "
                        "--board (an emulated qemu-* board) and report the measured latency")
    p.add_argument("--holdout", metavar="DATA", help="held-out inputs for the report "
                   "(default: the calibration inputs)")
    p.add_argument("--labels", metavar="NPY", help="class ids of the report inputs: adds accuracy")
    p.add_argument("--sensitivity", action="store_true",
                   help="per-layer sensitivity analysis instead of the int8 report: which layers "
                        "lose most at int8, and what keeping the worst in FP16 buys and costs "
                        "(executable mixed models, measured); the int8 model is written only "
                        "with -o")
    add_json(p)
    add_quiet(p)
    p.set_defaults(func=run)


def default_output(model: str, dtype: str = "int8") -> Path:
    stem = Path(model).stem
    stem = stem[:-len("_float")] if stem.endswith("_float") else stem
    return Path(f"{stem}_{dtype}.tflite")


def run_fp16(args) -> int:
    from ..quantize.fp16 import quantize_fp16, weights_bytes
    graph = quantize_fp16(read_tflite(args.model))
    model = write_tflite(graph)
    Reference(model)                     # tflite-runtime must load what we write
    out = Path(args.output) if args.output else default_output(args.model, "fp16")
    out.write_bytes(model)
    sizes = weights_bytes(graph)
    print(f"wrote {out} ({len(model):,} bytes; float model "
          f"{Path(args.model).stat().st_size:,} bytes): {sizes['float16']:,} bytes of float16 "
          f"weights")
    write_json(args.json, {"model": args.model, "output": str(out), "dtype": "fp16",
                           "fp16_bytes": len(model),
                           "float_bytes": Path(args.model).stat().st_size,
                           "float16_weight_bytes": sizes["float16"]})
    return 0


def run(args) -> int:
    if args.dtype == "fp16":
        if args.fp16_layers or args.keep_fp16 is not None:
            raise TinyrtError("--dtype fp16 makes every layer FP16; --fp16-layers / --keep-fp16 "
                              "choose some layers of an int8 model",
                              ["drop --dtype fp16 (and pass --calib) for a mixed int8/FP16 model"])
        return run_fp16(args)
    if not args.calib:
        raise TinyrtError("int8 quantisation needs calibration data",
                          ["--calib DATA (.npy / .npz or a folder of them)",
                           "or --dtype fp16 (no calibration)"])
    graph = read_tflite(args.model)
    prepared = prepare_float(graph)
    calib = load_samples(args.calib, prepared, "calibration")
    holdout = load_samples(args.holdout, prepared, "held-out") if args.holdout else calib
    labels = load_labels(args.labels, len(holdout)) if args.labels else None
    config = q.QuantConfig(method=args.method, percentile=args.percentile,
                           bias_correction=args.bias_correction,
                           per_channel_fc=args.per_channel_fc, float_io=args.float_io)
    if args.fp16_layers and args.keep_fp16 is not None:
        raise TinyrtError("--fp16-layers and --keep-fp16 both choose the FP16 layers",
                          ["pass one of them"])
    if args.keep_fp16 is not None and args.keep_fp16 < 1:
        raise TinyrtError(f"--keep-fp16 {args.keep_fp16}: keep at least one layer")
    board = load_board(args.board)
    if args.latency and not (args.fp16_layers or args.keep_fp16):
        raise TinyrtError("--latency measures a mixed-precision model",
                          ["add --fp16-layers NAMES or --keep-fp16 K",
                           "or deploy the int8 model: tinyrt deploy MODEL --board B"])
    if args.latency and board["kind"] != "qemu":
        raise TinyrtError(f"--latency deploys on an emulated board, where latency is exact "
                          f"(-icount); {board['id']} is not one",
                          ["--board qemu-m4 (or qemu-m7, qemu-m55)",
                           "or write the model and `tinyrt deploy` it on the board"])
    named = layer_names(args.fp16_layers, prepared) if args.fp16_layers else []
    check_fp16_layers(prepared, named)     # before calibrating: a typo costs nothing
    result = q.quantize(graph, calib, config, progress=not args.quiet)
    if args.sensitivity:
        return run_sensitivity(args, result, holdout, len(calib), board)
    int8 = result
    fp16 = named or pick_fp16_layers(args, result, holdout, board)
    if fp16:
        result = q.requantize(result, replace(config, layer_dtypes={n: "fp16" for n in fp16}))
    model = write_tflite(compact(result.graph) if fp16 else result.graph)
    Reference(model)                     # tflite-runtime must load what we write
    out = Path(args.output) if args.output else default_output(args.model)
    out.write_bytes(model)
    report = compare(result.float_graph, result.graph, holdout, labels, progress=not args.quiet)
    report.update(model=args.model, output=str(out), method=args.method,
                  bias_correction=args.bias_correction, per_channel_fc=args.per_channel_fc,
                  float_io=args.float_io, calibration_samples=len(calib),
                  evaluated_on="held-out" if args.holdout else "calibration",
                  float_bytes=Path(args.model).stat().st_size, int8_bytes=len(model))
    if fp16:
        report["mixed"] = mixed_report(int8.graph, result.graph, fp16, board)
        if args.latency:
            report["mixed"].update(measure_latency(int8.graph, out, board, args.quiet))
    print(format_report(report))
    if fp16:
        print(format_mixed(report["mixed"]))
    print(f"wrote {out} ({len(model):,} bytes; float model {report['float_bytes']:,} bytes)")
    if not args.holdout:
        print("note: measured on the calibration inputs; pass --holdout for unbiased figures")
    write_json(args.json, report)
    return 0


def layer_names(spec: str, graph) -> list[str]:
    """'a,#3' -> op names; '#N' is the op index the sensitivity table prints."""
    names = []
    for item in (s.strip() for s in spec.split(",")):
        if item.startswith("#"):
            if not item[1:].isdigit() or int(item[1:]) >= len(graph.ops):
                raise TinyrtError(f"'{item}' is not an op index of '{graph.name}' "
                                  f"(0 to {len(graph.ops) - 1})")
            item = graph.ops[int(item[1:])].name
        if item:
            names.append(item)
    return names


def pick_fp16_layers(args, result, holdout, board) -> list[str]:
    """With --keep-fp16 K, the op names of the chosen layers (--search) and of the ops that
    follow them (as the sensitivity analysis measured them)."""
    fg = result.float_graph
    if args.keep_fp16 is None:
        return []
    from ..quantize.sensitivity import analyse, fp16_names, greedy_fp16, layer_owners
    base = result if not result.config.float_io else \
        q.requantize(result, replace(result.config, float_io=False))
    if args.search == "greedy":
        rows = greedy_fp16(base, holdout, top_k=args.keep_fp16, progress=not args.quiet,
                           board=board, max_arena=args.max_arena)
        kept = rows[-1]["indices"] if rows else []
        if not kept:
            print("note: no layer in FP16 improves the output on these inputs; the model stays "
                  "all-int8")
    else:
        report = analyse(base, holdout, top_k=args.keep_fp16, progress=not args.quiet,
                         board=board)
        kept = [r["index"] for r in report["layers"][:args.keep_fp16]]
    return fp16_names(fg, layer_owners(fg), kept)


def mixed_report(int8_graph, mixed_graph, names: list[str], board) -> dict:
    """What keeping ``names`` in FP16 costs against the all-int8 model, from tinyrt's plan."""
    from ..quantize.sensitivity import costs
    a, b = costs(int8_graph, board), costs(mixed_graph, board)
    return {"fp16_layers": names, "board": board["id"], "int8": a, "mixed": b,
            "extra_flash_bytes": b["weights_bytes"] - a["weights_bytes"],
            "extra_arena_bytes": b["arena_bytes"] - a["arena_bytes"]}


def measure_latency(int8_graph, mixed_path: Path, board, quiet: bool) -> dict:
    """Both models deployed on ``board`` (one seeded input each): latency and bit-exactness."""
    from ..pipeline import DeployOptions, deploy
    out = {}
    for key, model in (("int8", int8_graph), ("mixed", mixed_path)):
        r = deploy(model, board, DeployOptions(runs=1, quiet=quiet))
        out[f"{key}_latency"] = r["latency"]["cycles_median"]
        out[f"{key}_bit_exact"] = r["bit_exact_runs"] == r["runs"]
        out["latency_unit"] = r["latency"]["unit"]
    out["extra_latency"] = out["mixed_latency"] - out["int8_latency"]
    return out


def format_mixed(m: dict) -> str:
    from ..table import table
    timed = "mixed_latency" in m
    rows = [["all int8", m["int8"]["weights_bytes"], m["int8"]["arena_bytes"]],
            [f"{len(m['fp16_layers'])} op(s) in FP16", m["mixed"]["weights_bytes"],
             m["mixed"]["arena_bytes"]],
            ["cost", f"{m['extra_flash_bytes']:+,}", f"{m['extra_arena_bytes']:+,}"]]
    if timed:
        for row, value in zip(rows, (m["int8_latency"], m["mixed_latency"],
                                     f"{m['extra_latency']:+,} "
                                     f"({m['mixed_latency'] / m['int8_latency']:.2f}x)")):
            row.append(value)
    text = table(["model", "weights B", "arena B"] + ([m["latency_unit"]] if timed else []), rows,
                 title=f"mixed precision on {m['board']}: "
                       + ", ".join(short_name(n, 40) for n in m["fp16_layers"]))
    if timed:
        return text + ("\nboth bit-exact with tflite-runtime on the board"
                       if m["int8_bit_exact"] and m["mixed_bit_exact"] else
                       "\nwarning: an output differed from tflite-runtime on the board")
    return text + "\nlatency: add --latency, or `tinyrt deploy MODEL --board " + m["board"] + \
        "`, or `tinyrt bench mixed`"


def run_sensitivity(args, result, holdout, calib_count: int, board) -> int:
    from ..quantize.sensitivity import analyse, format_sensitivity
    if args.output:
        Path(args.output).write_bytes(write_tflite(result.graph))
    if result.config.float_io:   # the analysis works on the full-integer model
        result = q.requantize(result, replace(result.config, float_io=False))
    report = analyse(result, holdout, progress=not args.quiet, board=board)
    report.update(model=args.model, method=args.method, bias_correction=args.bias_correction,
                  per_channel_fc=args.per_channel_fc, calibration_samples=calib_count,
                  evaluated_on="held-out" if args.holdout else "calibration")
    print(format_sensitivity(report))
    if not args.holdout:
        print("note: measured on the calibration inputs; pass --holdout for unbiased figures")
    write_json(args.json, report)
    return 0

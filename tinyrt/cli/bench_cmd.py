"""`tinyrt bench memory|latency|quant`: benchmark tables against TFLite Micro's measured
baselines (../shared/baselines). Figures are measured here, never asserted."""
from __future__ import annotations

from .. import bench
from ..errors import TinyrtError
from ..table import table
from .common import add_json, add_kernels, write_json


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks beside TFLite Micro (needs ../shared)")
    p.add_argument("what", choices=["memory", "latency", "quant", "mixed", "fp16", "fuzz", "link",
                                    "train"],
                   help="memory: arena per model; latency: deploy every model on --board; "
                        "quant: tinyrt's int8 quantisation vs TensorFlow's; mixed: the most "
                        "sensitive layers in FP16, SQNR and measured cost on --board; fp16: "
                        "FP16 models with FP16 and FP32 compute beside int8 on --board "
                        "(qemu-m55 computes FP16 with MVE); fuzz: mutated models must be refused "
                        "clearly or compile and run bit-exact; link: inferences through a "
                        "fault-injecting proxy to an emulated board; train: on-device training "
                        "(training peak SRAM, instructions per step, accuracy before/after) of "
                        "the example model, kws and vww in four configurations")
    p.add_argument("--models", metavar="NAMES",
                   help="latency, mixed, fp16: comma-separated model names (default: every model)")
    p.add_argument("--top-k", type=int, default=3,
                   help="mixed: keep up to K layers in FP16 (default 3)")
    p.add_argument("--search", choices=("both", "greedy", "rank"), default="both",
                   help="mixed: how the FP16 layers are chosen (as `tinyrt quantize --search`; "
                        "default both)")
    p.add_argument("--board", default="qemu-m4", help="board to measure on / compare with")
    add_kernels(p)
    p.add_argument("--runs", type=int, default=3, help="inferences per model (latency)")
    p.add_argument("--shared", metavar="DIR", help="the shared folder (default ../shared)")
    p.add_argument("--mobilenet", action="store_true",
                   help="memory: also plan MobileNetV2-style ImageNet models built in code")
    p.add_argument("--plan-only", action="store_true",
                   help="memory: plan only, do not deploy to measure peak SRAM and latency")
    p.add_argument("--count", type=int, default=1000, help="fuzz: mutants per model (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="fuzz: the mutations' seed (default 0)")
    _add_link_args(p)
    add_json(p)
    p.set_defaults(func=run)


def _add_link_args(p) -> None:
    g = p.add_argument_group("link", "bench link: --count inferences of --model through a faulty "
                                     "link with these rates (per byte; --delay per chunk) and --seed")
    for name, default in (("corrupt", 0.01), ("drop", 0.001), ("duplicate", 0.001),
                          ("reorder", 0.001), ("delay", 0.01)):
        g.add_argument(f"--{name}", type=float, default=default, metavar="RATE",
                       help=f"link: {name} rate (default {default})")
    g.add_argument("--resets", type=int, default=1,
                   help="link: board restarts in the middle of an inference (default 1)")
    g.add_argument("--model", default="example", metavar="MODEL",
                   help="link: example (the DS-CNN example, 490 B in), small (two FC layers, "
                        "96 B in) or an int8 .tflite path (default example)")
    g.add_argument("--timeout", type=float, default=0.5, metavar="S",
                   help="link: seconds to wait for an answer before sending again (default 0.5)")


def _link(args, shared):
    from ..bench_link import bench_link
    from ..linkproxy import Faults
    faults = Faults(corrupt=args.corrupt, drop=args.drop, duplicate=args.duplicate,
                    reorder=args.reorder, delay=args.delay, seed=args.seed)
    r = bench_link(args.count, faults, args.board, resets=args.resets, timeout=args.timeout,
                   model=args.model)
    print(table(["inferences", "verified", "of which after a reset", "reported failures",
                 "silently wrong", "resends", "of which timeouts", "board resets", "elapsed s",
                 "inferences/s"],
                [[r["inferences"], r["verified"], r["recovered"], r["reported_failures"],
                  r["silently_wrong"], r["resends"], r["timeouts"], r["resets"], r["elapsed_s"],
                  r["inferences_per_s"]]],
                title=f"{r['model']} on {args.board} through a faulty link: corrupt "
                      f"{args.corrupt}, drop {args.drop}, duplicate {args.duplicate}, reorder "
                      f"{args.reorder} per byte, delay {args.delay} per chunk, seed {args.seed}"))
    for kind, n in r["failure_kinds"].items():
        print(f"  reported: {n} x {kind}")
    for way, c in r["faults"].items():
        print(f"  {way}: " + ", ".join(f"{n:,} {k}" for k, n in c.items()))
    return r


def _memory(args, shared):
    from ..bench_memory import bench_memory
    models = args.models.split(",") if args.models else None
    rows = bench_memory(shared, args.board, measure=not args.plan_only, runs=args.runs,
                        models=models)
    measured = any("streamed_peak_sram_bytes" in r for r in rows)
    head = ["model", "TFLM arena", "layer-wise", "streamed", "streamed/TFLM", "input read by rows",
            "lower bound", "stage ops"]
    body = [[r["model"], r.get("tflm_arena_bytes"), r.get("arena_bytes"),
             r.get("streamed_arena_bytes"), r.get("streamed_ratio_vs_tflm"),
             r.get("input_streamed_arena_bytes"), r.get("layer_lower_bound_bytes"),
             ", ".join("{}..{}".format(*ops) for ops in r.get("stage_ops") or []) or "-"]
            for r in rows]
    if measured:
        head += ["TFLM arena+stack", "peak SRAM layer-wise", "peak SRAM streamed", "streamed/TFLM",
                 "latency cost", "peak, input read by rows (without the input)"]
        for line, r in zip(body, rows):
            line += [r.get("tflm_peak_sram_bytes"), r.get("peak_sram_bytes"),
                     r.get("streamed_peak_sram_bytes"), r.get("streamed_peak_ratio_vs_tflm"),
                     f"{100 * r['latency_cost']:+.1f}%" if "latency_cost" in r else None,
                     f"{r['input_streamed_peak_sram_bytes']:,} "
                     f"({r['input_streamed_peak_without_input_bytes']:,})"
                     if "input_streamed_peak_sram_bytes" in r else None]
    head.append("note")
    for line, r in zip(body, rows):
        line.append(r.get("error", "") or ("" if not measured or (r.get("bit_exact") and
                                                               r.get("streamed_bit_exact"))
                                           else "NOT bit-exact"))
    if args.mobilenet:
        from ..bench_memory import bench_mobilenets
        generated = bench_mobilenets(args.board)
        print(table(["model", "ops", "input", "layer-wise", "streamed", "input read by rows",
                     "same, strips up to 30% MACs", "reduction", "stages", "search",
                     "published for a comparable model"],
                    [[r["model"], r["ops"], r["input_bytes"], r["arena_bytes"],
                      r["streamed_arena_bytes"],
                      f"{r['input_streamed_arena_bytes']:,} "
                      f"(+{100 * r['input_streamed_mac_overhead']:.0f}% MACs)",
                      f"{r['input_streamed_30pct_arena_bytes']:,} "
                      f"(+{100 * r['input_streamed_30pct_mac_overhead']:.0f}% MACs)",
                      f"{r['reduction']:.2f}x", r["input_streamed_stages"],
                      f"{r['plan_cpu_seconds']:.1f} s", r["published"]] for r in generated],
                    title="MobileNetV2-style ImageNet models built in code (tinyrt/mobilenet.py, "
                          "int8 image input, planned for the board): arena bytes; 'streamed' "
                          "holds the input whole, 'input read by rows' (--stream-input) does "
                          "not, as the published figures; extra MACs of column strips as a "
                          "share of the model's; stages and search CPU time of the input-read-"
                          "by-rows plan"))
        rows = rows + generated
    print(table(head, body, title=f"memory in bytes on {args.board}: arenas from the plan; peak "
                                  "SRAM measured on the board (arena + painted stack + static "
                                  "RAM) beside TFLM's arena + stack; streamed = --patch auto "
                                  "(no extra MACs; latency cost in emulated instructions)"))
    if measured:
        print("deployed with --input-copy off: the application writes its input into the arena "
              "before every run, as with TFLite Micro (the default build keeps a copy of the "
              "input when the plan reuses its bytes; that copy would count as static RAM)")
    return rows


def _latency(args, shared):
    models = args.models.split(",") if args.models else None
    kernels = ("portable",) if args.kernels == "portable" else None
    rows = bench.bench_latency(shared, args.board, args.runs, models=models, kernels=kernels)
    summary = bench.latency_summary(rows)
    mpi = lambda v: f"{v:.2f}" if v else None
    body = [[r["model"], r.get("bit_exact"), r.get("instructions"), mpi(r.get("macs_per_instruction")),
             r.get("tflm_cmsis_instructions"), mpi(r.get("tflm_cmsis_macs_per_instruction")),
             r.get("ratio_vs_tflm_cmsis"), r.get("tflm_ref_instructions"), r.get("ratio_vs_tflm_ref"),
             r.get("peak_sram_bytes"), r.get("tflm_cmsis_peak_sram_bytes"), r.get("flash_bytes"),
             r.get("tflm_cmsis_flash_bytes"), r.get("error", "")] for r in rows]
    body.append(["geometric mean", summary["all_bit_exact"], None, None, None, None,
                 summary["geomean_ratio_vs_tflm_cmsis"], None, summary["geomean_ratio_vs_tflm_ref"],
                 None, None, None, None, ""])
    print(table(["model", "bit-exact", "tinyrt instr", "MACs/instr", "TFLM+CMSIS-NN",
                 "MACs/instr", "ratio", "TFLM ref", "ratio", "peak SRAM B", "TFLM SRAM B",
                 "flash B", "TFLM flash B", "note"], body,
                title=f"emulated instructions per inference on {args.board}, {args.kernels} "
                      "kernels (QEMU -icount "
                      "shift=0, median; instructions, not cycles); ratio = tinyrt / TFLM, lower "
                      "is better; SRAM = arena + stack (+ tinyrt's static RAM; --input-copy off: "
                      "the input written into the arena, as with TFLite Micro)"))
    return {"rows": rows, "summary": summary}


def _train(args, shared):
    from ..bench_train import bench_train
    models = args.models.split(",") if args.models else None
    rows = bench_train(shared, args.board, models=models)
    pct = lambda v: f"{100 * v:.1f}%" if v is not None else None
    print(table(["model", "config", "--train", "parameters", "planned peak B", "training peak SRAM B",
                 "instr/step", "accuracy before", "after", "note"],
                [[r["model"], r.get("config"), r.get("spec"), r.get("parameters"),
                  r.get("planned_training_peak_bytes"), r.get("training_peak_sram_bytes"),
                  r.get("step_median"), pct(r.get("accuracy_before")),
                  pct(r.get("accuracy_after")), r.get("error") or r.get("note", "")] for r in rows],
                title=f"on-device training on {args.board} (FP32 trainable tail; emulated "
                      "instructions per step = begin + one sample's forward and backward + "
                      "update, batch 1, median; peak SRAM = backbone arena + painted stack + static RAM; accuracy "
                      "measured by the device on the new writer's digits, tinyrt/train/scenario.py)"))
    return rows


def _quant(args, shared):
    from ..quantize.bench import bench_quant, format_bench_quant
    rows = bench_quant(shared)
    print(format_bench_quant(rows))
    return rows


def _mixed(args, shared):
    from ..boards import load_board
    from ..quantize.bench import SEARCHES, bench_mixed, format_bench_mixed
    models = args.models.split(",") if args.models else None
    searches = SEARCHES if args.search == "both" else (args.search,)
    rows = bench_mixed(shared, load_board(args.board), args.top_k, models, searches=searches)
    print(format_bench_mixed(rows))
    return rows


def _fp16(args, shared):
    models = args.models.split(",") if args.models else None
    rows = bench.bench_fp16(shared, args.board, args.runs, models)
    base = {r["model"]: r.get("instructions") for r in rows if r.get("weights") == "int8"}
    print(table(["model", "weights", "compute", "instructions", "vs int8", "arena B", "flash B",
                 "matching", "max |diff|", "note"],
                [[r["model"], r.get("weights"), r.get("compute"), r.get("instructions"),
                  f"{r['instructions'] / base[r['model']]:.2f}x"
                  if r.get("instructions") and base.get(r["model"]) else None,
                  r.get("arena_bytes"), r.get("flash_bytes"),
                  f"{r['matching_runs']}/{r['runs']}" if "runs" in r else None,
                  f"{r['max_abs_diff']:.2g}" if "max_abs_diff" in r else None,
                  r.get("error", "")] for r in rows],
                title=f"FP16 models on {args.board}: FP16 and FP32 compute beside TensorFlow's "
                      "int8 model (emulated instructions per inference, median; matching: "
                      "int8 byte-exact, float within the rule of its compute, docs/fp16.md)"))
    return rows


def _fuzz(args, shared):
    from .. import fuzz
    tallies = fuzz.run(fuzz.models(shared, args.models.split(",") if args.models else None),
                       args.count, args.seed)
    print(table(["model", "mutants", "refused", "compiled", "bit-exact checked/ok",
                 "tflite-runtime refused", "crashes", "hangs", "mismatches", "check errors",
                 "seconds"],
                [[t.model, t.mutants, t.refused, t.compiled, f"{t.checked}/{t.bit_exact}",
                  t.tflite_refused, t.crashes, t.hangs, t.mismatches, t.check_errors, t.seconds]
                 for t in tallies],
                title=f"mutated models (seed {args.seed}) through read + lower on host: refused "
                      "with a clear error or compiled; a sample of the compiled ones built and "
                      "run beside tflite-runtime (its own refusals are not tinyrt bugs)"))
    for t in tallies:
        for f in t.findings:
            if f["outcome"] != "tflite_refused":
                print(f"{t.model} mutant {f['mutant']} ({f['mutation']}): {f['outcome']} "
                      f"{f.get('type') or ''} {f.get('message', '')} {f.get('where') or ''}")
    return {"board": "host", "rows": [t.as_dict() for t in tallies]}


def run(args) -> int:
    if args.what == "fuzz":   # the generated models need no shared folder
        try:
            shared = bench.shared_dir(args.shared)
        except TinyrtError:
            shared = None
    elif args.what == "link":   # the example model is built in code
        shared = None
    elif args.what == "train":   # the example model is built in code; shared models are optional
        try:
            shared = bench.shared_dir(args.shared)
        except TinyrtError:
            shared = None
    else:
        shared = bench.shared_dir(args.shared)
    rows = {"memory": _memory, "latency": _latency, "quant": _quant,
            "mixed": _mixed, "fp16": _fp16, "fuzz": _fuzz, "link": _link,
            "train": _train}[args.what](args, shared)
    extra = rows if isinstance(rows, dict) else {"rows": rows}
    write_json(args.json, {"benchmark": args.what, "board": args.board, **extra})
    return 0

"""`tinyrt bench memory`: benchmark tables against TFLite Micro's measured baselines."""
from __future__ import annotations

from .. import bench
from ..table import table
from .common import add_json, write_json


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks beside TFLite Micro (needs ../shared)")
    p.add_argument("what", choices=["memory"], help="memory: arena per model")
    p.add_argument("--board", default="qemu-m4", help="board whose baselines to compare with")
    p.add_argument("--shared", metavar="DIR", help="the shared folder (default ../shared)")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    shared = bench.shared_dir(args.shared)
    rows = bench.bench_memory(shared, args.board)
    print(table(["model", "tinyrt arena B", "TFLM arena B", "tinyrt/TFLM", "no-reuse B",
                 "lower bound B", "note"],
                [[r["model"], r.get("arena_bytes"), r.get("tflm_arena_bytes"),
                  r.get("ratio_vs_tflm"), r.get("linear_arena_bytes"),
                  r.get("layer_lower_bound_bytes"), r.get("error", "")] for r in rows],
                title=f"arena bytes, tinyrt vs TFLite Micro + CMSIS-NN on {args.board} "
                      "(TFLM's arena includes its persistent per-channel data)"))
    write_json(args.json, {"benchmark": "memory", "board": args.board, "rows": rows})
    return 0

"""The hidden-state cache's storage options on one run, resumable: float16 with every state (the default),
`--cache-dtype int8`, and `--cache-layers` subsets, then results/cache_options.{md,csv} (each option against
float16 with every state, paired on the same test examples):

    python experiments/cache_options.py --out runs/cache_options --results results

The run is the offline default (`run.py --model minion --hidden 64`) unless flags say otherwise. The runs'
records and test outputs are copied into RESULTS/cache_options/ (rerun the command to rebuild the table).
"""
import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.reports.cache_options import build_cache_options  # noqa: E402
from minion_tf.runs.cli import add_shared_args, guarded  # noqa: E402
from minion_tf.runs.config import RunConfig  # noqa: E402
from minion_tf.runs.runner import run  # noqa: E402

SUBSETS = ("0,2,4,6", "0,3,6", "6")  # of MiniLM's 7 states: every other, the ends and the middle, the last
KEPT = ("run.json", "test_probs.npy", "test_labels.npy")  # what the table is built from


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/cache_options.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minion", help="a side network: minion (default), read or lst")
    p.add_argument("--hidden", type=int, default=64, help="READ's and MINION's h (default 64)")
    p.add_argument("--subsets", nargs="+", default=list(SUBSETS),
                   help="--cache-layers values to measure (default: %(default)s)")
    p.add_argument("--results", default="results", help="folder of the table (default results/)")
    add_shared_args(p)
    args = p.parse_args(argv)
    base = {k: v for k, v in vars(args).items()
            if k not in ("model", "hidden", "subsets", "results", "cache_dtype", "cache_layers")}
    base["max_examples"] = base["max_examples"] or None
    options = {"hidden": args.hidden} if args.model in ("minion", "read") else {}
    variants = [{}, {"cache_dtype": "int8"}, *({"cache_layers": s} for s in args.subsets)]

    def action():
        kept, folders = Path(args.results) / "cache_options", []
        for i, variant in enumerate(variants, 1):
            config = RunConfig(**base, **variant, model=args.model, options=options)
            print(f"[{i}/{len(variants)}] {config.label()} {variant or 'float16, every state'}", flush=True)
            run(config)  # a finished run is read back, not redone
            folders.append(kept / config.run_dir().name)
            folders[-1].mkdir(parents=True, exist_ok=True)
            for name in KEPT:
                shutil.copy2(config.run_dir() / name, folders[-1] / name)
        print("wrote " + ", ".join(map(str, build_cache_options(folders, Path(args.results)))))

    return guarded(action, "interrupted: rerun the same command; finished runs are skipped, the cut one resumes")


if __name__ == "__main__":
    sys.exit(main())

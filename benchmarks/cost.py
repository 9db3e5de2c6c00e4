"""Cost of side-tuning against full fine-tuning, on fixed data, encoder and epochs:

    python benchmarks/cost.py --examples 2000 --epochs 3

Runs full fine-tuning, READ-64 and MINION-64, each through `run()` in a fresh process with
an empty output folder (so every side run builds its own hidden-state cache), and prints
for each: total wall time (process start to record, cache build included), the cache build
alone, time per epoch, peak RSS of the process, and the side / full ratios (targets: total
time <= 0.10, peak memory <= 0.10; the paper reached 0.57 energy and 0.16 memory on a GPU,
without a cache). A phase profile says where each run's time goes: start-up (imports,
encoder and data loading), cache build, training epochs and testing.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

MODELS = (("finetune", "full fine-tuning"), ("read", "READ-64"), ("minion", "MINION-64"))


def measure_one(model: str, examples: int, epochs: int, out: str, data: str | None) -> dict:
    """Run one model in this process and report its costs (called in a child process)."""
    from minion_tf.methods.registry import method_class
    from minion_tf.runs.config import RunConfig
    from minion_tf.runs.runner import run

    record = run(RunConfig(model=model, options={"hidden": 64} if method_class(model).size_option == "hidden" else {}, max_examples=examples, epochs=epochs, out=out, data=data))
    timings = record["timings"]
    epoch_s = [e["duration_s"] for e in record["epochs"]]
    total = time.perf_counter() - START
    return {"model": model, "total_s": total, "cache_s": timings.get("cache_s", 0.0), "epoch_s": epoch_s,
            "train_s": timings["train_s"], "test_s": timings["test_s"],
            # imports, encoder and data loading, tokenising: everything but cache, training and test
            "startup_s": total - timings["train_s"] - timings["test_s"] - timings.get("cache_s", 0.0),
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "accuracy": record["test"]["accuracy"], "train_examples": record["data"]["train"]}


def measure(model: str, args) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"cost-{model}-") as out:
        cmd = [sys.executable, __file__, "--child", model, "--examples", str(args.examples),
               "--epochs", str(args.epochs), "--out", out] + (["--data", args.data] if args.data else [])
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"error: the {model} run failed:\n{result.stderr[-3000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])


def report(results: dict) -> None:
    full = results["finetune"]
    print(f"{'':18}{'total s':>9}{'cache s':>9}{'s/epoch':>9}{'train s':>9}{'test s':>8}{'start-up s':>11}"
          f"{'peak RSS GiB':>13}{'acc':>7}")
    for model, label in MODELS:
        r = results[model]
        print(f"{label:18}{r['total_s']:9.1f}{r['cache_s']:9.1f}{sum(r['epoch_s']) / len(r['epoch_s']):9.1f}"
              f"{r['train_s']:9.1f}{r['test_s']:8.1f}{r['startup_s']:11.1f}{r['peak_rss_gib']:13.2f}"
              f"{r['accuracy']:7.3f}")
    print("ratios side / full (targets: time <= 0.10, memory <= 0.10; paper on a GPU: energy 0.57, memory 0.16)")
    for model, label in MODELS[1:]:
        r = results[model]
        time_ratio, mem_ratio = r["total_s"] / full["total_s"], r["peak_rss_gib"] / full["peak_rss_gib"]
        epoch_ratio = sum(r["epoch_s"]) / sum(full["epoch_s"])
        print(f"  {label}: total time {time_ratio:.3f} ({'met' if time_ratio <= 0.10 else 'missed'}), "
              f"training epochs alone {epoch_ratio:.3f}, peak memory {mem_ratio:.3f} "
              f"({'met' if mem_ratio <= 0.10 else 'missed'})")
    print("profile (share of each run's total time):")
    for model, label in MODELS:
        r = results[model]
        parts = {"start-up": r["startup_s"], "cache build": r["cache_s"], "training": r["train_s"],
                 "test": r["test_s"]}
        print(f"  {label}: " + ", ".join(f"{k} {100 * v / r['total_s']:.0f} %" for k, v in parts.items()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=int, default=2000, help="tweets before the 80/10/10 split (default 2000)")
    p.add_argument("--epochs", type=int, default=3, help="epochs for every model (default 3)")
    p.add_argument("--data", default=None, help="tweet folder (default ../shared/data/tweets/sentiment140)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        import contextlib

        with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the one JSON line
            result = measure_one(args.child, args.examples, args.epochs, args.out, args.data)
        print(json.dumps(result))
        return 0
    print(f"cost benchmark: MiniLM, {args.examples} tweets (80 % train), {args.epochs} epochs, batch 256; "
          "each model in a fresh process with an empty cache", flush=True)
    results = {}
    for model, label in MODELS:
        results[model] = measure(model, args)
        print(f"  measured {label}: {results[model]['total_s']:.1f} s", flush=True)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

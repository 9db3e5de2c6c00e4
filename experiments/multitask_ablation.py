"""Ablation of the multi-task minBERT extensions (second CS224N report's table), resumable.

Runs every row through `experiments/multitask.py` in its own process (a finished row is
skipped, an interrupted one resumes), then writes RESULTS/multitask_ablation.md and .csv
from the rows' run.json files, with the command and the scale beside the numbers. Every row
is one run folder of the runner under OUT (OUT/minbert-multitask-lrLR-sSEED-KEY, the key
telling the rows apart); a row made by the earlier version in OUT/ROW is not rerun: one line
says the `mv` that keeps it.

Example:
    python experiments/multitask_ablation.py --max-examples 400 --epochs 2
    python experiments/multitask_ablation.py --report-only     # tables from finished rows
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import shlex
import statistics
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.reports.markdown import write_table  # noqa: E402
from minion_tf.reports.multitask_claims import CLAIMS_NOTE, dev_interval, multitask_claim_rows, saved_dev_outputs  # noqa: E402,E501
from minion_tf.runs.migrate import keep_line  # noqa: E402

ROWS = (  # (name, label, flags)
    ("baseline", "baseline (MLP heads, mean of task losses)", []),
    ("pcgrad", "+ PCGrad", ["--pcgrad"]),
    ("gse", "+ GSE (PCGrad update, then plain update)", ["--gse"]),
    ("sts-cosine", "STS head: 5 * sigmoid(20 * cos(u, v))", ["--sts-head", "cosine"]),
    ("sts-uvcos", "STS head: MLP on [u; v; cos] (2d+1)", ["--sts-head", "uvcos"]),
    ("topk", "top-k selection (fraction {fraction:g})", ["--select-fraction", "{fraction:g}"]),
    ("smart", "+ SMART (lambda 5, step 1e-3, eps 1e-5, noise 1e-5)", ["--smart"]),  # last: the slowest row
)
METRICS = (("sst_acc", "sst_accuracy"), ("para_acc", "para_accuracy"), ("sts_r", "sts_pearson"), ("score", "score"))
COLUMNS = ("row", "setting", *[f"{c}{end}" for c, _ in METRICS for end in ("", "_low", "_high")], "trainable",
           "trainable_pct", "s_per_step", "train_min", "steps", "flags")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="experiments/multitask_ablation.py", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--max-examples", "--max-examples-per-task", dest="max_examples", type=int, default=320,
                   help="training examples per task")
    p.add_argument("--max-dev-examples", type=int, default=320)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--select-fraction", type=float, default=0.2)
    p.add_argument("--rows", default=",".join(r[0] for r in ROWS), help="comma-separated subset of rows")
    p.add_argument("--out", default="runs/multitask_ablation", help="run folders go to OUT/ (one per row)")
    p.add_argument("--results", default="results", help="folder of multitask_ablation.md and .csv")
    p.add_argument("--report-only", action="store_true", help="only write the tables from finished rows")
    return p


def common_flags(args) -> list[str]:
    return ["--encoder", args.encoder, "--max-examples", str(args.max_examples),
            "--max-dev-examples", str(args.max_dev_examples), "--epochs", str(args.epochs),
            "--batch-size", str(args.batch_size), "--lr", f"{args.lr:g}", "--max-length", str(args.max_length),
            "--seed", str(args.seed), "--out", args.out]


def row_flags(flags: list[str], args) -> list[str]:
    return [f.format(fraction=args.select_fraction) for f in flags]


@cache
def _multitask_script():
    spec = importlib.util.spec_from_file_location("multitask_script", ROOT / "experiments" / "multitask.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rooted(path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else ROOT / path


def row_dir(args, flags: list[str]) -> Path:
    """The run folder of a row: the runner's, from the flags the row runs with."""
    config = _multitask_script().config_for([*common_flags(args), *row_flags(flags, args)])
    return _rooted(str(config.run_dir()))


def table_rows(args) -> list[dict]:
    out = []
    for name, label, flags in ROWS:
        path = row_dir(args, flags) / "run.json"
        if name not in args.rows.split(",") or not path.is_file():
            continue
        record = json.loads(path.read_text())
        final, params, timings = record["final"], record["params"], record["timings"]
        joint = [e for e in record["epochs"] if e["stage"] == "joint"]
        outputs = saved_dev_outputs(path.parent)  # None for a row finished before they were saved
        found = {c: dev_interval(outputs, m) if outputs else (None, None) for c, m in METRICS}
        intervals = {f"{c}_{end}": found[c][i] for c, _ in METRICS for i, end in enumerate(("low", "high"))}
        out.append({**intervals, "row": name, "setting": label.format(fraction=args.select_fraction),
                    "sst_acc": final["sst_accuracy"], "para_acc": final["para_accuracy"],
                    "sts_r": final["sts_pearson"], "score": final["score"], "trainable": params["trainable"],
                    "trainable_pct": 100.0 * params["trainable"] / params["total"],
                    "s_per_step": statistics.fmean(e["step_s"] for e in joint),
                    "train_min": sum(e["train_s"] for e in record["epochs"]) / 60.0,
                    "steps": sum(e["steps"] for e in joint), "flags": " ".join(row_flags(flags, args)),
                    "total": params["total"], "selected": params.get("selected_encoder"),
                    "encoder_params": params["encoder"], "data": record["data"],
                    "selection_s": timings.get("selection_s"), "run_dir": str(path.parent)})
    return out


def earlier_row(args, name: str, flags: list[str]) -> str | None:
    """One line if the earlier version's folder OUT/ROW holds this row and its new folder does not."""
    old, new = _rooted(args.out) / name, row_dir(args, flags)
    if not (old / "run.json").is_file() and not (old / "progress").is_dir() or new.exists():
        return None
    return keep_line(old, new, f"the ablation before the runner named row {name}'s folder after it")


def write_tables(args, command: str) -> None:
    rows = table_rows(args)
    results = ROOT / args.results if not Path(args.results).is_absolute() else Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    with open(results / "multitask_ablation.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([f"{r[c]:.4f}" if isinstance(r[c], float) else "" if r[c] is None else r[c]
                             for c in COLUMNS])
    data = rows[0]["data"] if rows else {}
    sizes = ", ".join(f"{t} {d['train']}/{d['dev']}" for t, d in data.items())
    dev = f"dev sets capped at {args.max_dev_examples} per task" if args.max_dev_examples else "whole dev sets"
    scale = (f"encoder {args.encoder}, {args.max_examples} training examples per task, {dev} (train/dev: {sizes}), "
             f"{args.epochs} joint epochs, seed {args.seed}")
    lines = [
        "# Multi-task minBERT ablation (CS224N reports, DESIGN.md item 2)", "",
        f"Command: `{command}`", "",
        f"Scale: encoder {args.encoder} (all-MiniLM-L6-v2 for `minilm`), {args.max_examples} training "
        f"examples per task, {dev} (train/dev: {sizes}), "
        f"{args.epochs} joint epochs of mixed batches ({args.batch_size} examples of each task per step), "
        f"max length {args.max_length} tokens, Adam lr {args.lr:g}, seed {args.seed}, one run per row, "
        "CPU only (2 shared cores). Paraphrase trains on a seeded 90/10 split of `quora-dev.csv` "
        "(`quora-train.csv` is not available); 2 quora-dev rows with empty labels are skipped. "
        "Metrics are on the dev sets (paraphrase: the held-out 10 %) after the last epoch.", "",
        "Score = (SST acc + paraphrase acc + (r + 1) / 2) / 3. For scale: the reports (BERT-base, full "
        "training sets) give dev SST 0.51-0.54, paraphrase 0.73-0.89, STS r 0.36-0.90; these rows train "
        "a 6-layer MiniLM on a few hundred examples per task, so only their differences are of interest.", "",
        "Each score has its 95 % bootstrap interval over the dev examples beside it (2,000 resamples, seed 0; "
        "the score's resamples each task's dev set on its own); a row finished before dev outputs were saved has "
        "none. The extensions' verdicts against the baseline are in multitask_claims.md.", "",
        "| row | setting | flags | SST acc | paraphrase acc | STS r | score | trainable params | s/step | train min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        flags = f"`{r['flags']}`" if r["flags"] else "(none)"
        scores = " | ".join(_with_interval(r, c) for c, _ in METRICS)
        lines.append(f"| {r['row']} | {r['setting']} | {flags} | {scores} | {r['trainable']:,} "
                     f"({r['trainable_pct']:.1f} %) | {r['s_per_step']:.2f} | {r['train_min']:.1f} |")
    for r in rows:
        if r["selected"] is not None:
            lines += ["", f"Top-k row: {r['selected']:,} of {r['encoder_params']:,} encoder weights selected "
                      f"({100 * r['selected'] / r['encoder_params']:.1f} %) by squared gradients summed over one "
                      f"pass ({r['selection_s'] or 0:.0f} s); with the heads, {r['trainable']:,} of {r['total']:,} "
                      "parameters train."]
    lines += ["", "Each row's command: `python experiments/multitask.py " + " ".join(
        shlex.quote(x) for x in common_flags(args)) + " FLAGS` with FLAGS from the `flags` column (its run "
        "folder: OUT/minbert-multitask-lrLR-sSEED-KEY). s/step is the mean wall time of a joint step (GSE: two "
        "updates), measured on a machine shared with other jobs, first-step tracing included; train min sums the "
        "epochs' training time (dev evaluation left out). At this scale one run per row "
        "cannot separate differences of a few points from noise.", "",
        "Notes: GSE makes two updates per step (a PCGrad update, then a plain one on the same batches), so at "
        "equal steps it has twice the updates of the other rows. SMART perturbs word embeddings within a "
        "max-norm ball of radius 1e-5 and compares dropout-free outputs; its term is tiny at these defaults. "
        "Top-k masks the encoder's gradients (Adam without weight decay, so unselected weights never move); "
        "its steps cost as much as full training on this CPU, since gradients are still computed densely. "
        "The cosine heads encode the two STS sentences separately (siamese); the MLP head reads the joint pair."]
    (results / "multitask_ablation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_table(multitask_claim_rows({r["row"]: Path(r["run_dir"]) for r in rows}), results / "multitask_claims",
                columns=["claim", "verdict", "numbers"], note=f"{CLAIMS_NOTE} Scale: {scale}. Command: `{command}`.")
    print(f"wrote {results / 'multitask_ablation.md'} ({len(rows)} rows) and multitask_claims.md", flush=True)


def _with_interval(row: dict, column: str) -> str:
    low, high = row[f"{column}_low"], row[f"{column}_high"]
    return f"{row[column]:.4f}" + (f" [{low:.3f}, {high:.3f}]" if low is not None else "")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    command = "python experiments/multitask_ablation.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])
                                                                     if a != "--report-only")
    wanted = args.rows.split(",")
    unknown = [r for r in wanted if r not in {name for name, _, _ in ROWS}]
    if unknown:
        print(f"error: unknown row {unknown[0]!r}; rows are {', '.join(name for name, _, _ in ROWS)}", file=sys.stderr)
        return 2
    failed = []
    if not args.report_only:
        for name, _, flags in ROWS:
            if name not in wanted:
                continue
            if (line := earlier_row(args, name, flags)) is not None:
                print(f"error: {line}", file=sys.stderr)
                failed.append(name)
                continue
            cmd = [sys.executable, str(ROOT / "experiments" / "multitask.py"), *common_flags(args),
                   *row_flags(flags, args)]
            print(f"== {name}: {' '.join(shlex.quote(c) for c in cmd[1:])}", flush=True)
            if subprocess.run(cmd, cwd=ROOT).returncode != 0:
                failed.append(name)
            write_tables(args, command.strip())
    write_tables(args, command.strip())
    if failed:
        print(f"error: rows failed: {', '.join(failed)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

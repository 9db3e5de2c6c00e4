"""The Pittsburgh (GLUE) and UCSD (IMDb) claims as verdicts, from run records and the test outputs saved
beside them: "holds", "does not hold" or "cannot tell at this scale" (`reports.claims.verdict`).

Scores are each task's primary metric in points (correlations x 100). A difference is the 95 % paired
bootstrap interval over the test examples of the two methods' first-seed runs; the numbers also give
the seed means. Times are means of `train_s` over seeds, single measurements with no interval.

- Pittsburgh, on every task run with under 10,000 training examples: last-4 and last-3 (`freeze-4`,
  `freeze-3`) within 2.4 points of full fine-tuning (lr 2e-5 both), and for at least 33 % less
  training time; lr 2e-5 better than 1e-3, for full fine-tuning and each last-k.
- UCSD, at each train/val split: encoder-only within 1 point of full fine-tuning either way;
  embeddings-only more than 1 point behind it; BitFit and prompt tuning within 1 point of it, at
  their trainable share.

Example:
    >>> rows = task_claim_rows(load_task_records([Path("runs/glue")]))
    >>> rows[0]["claim"], rows[0]["verdict"]
    ('rte: last-4 within 2.4 points of full fine-tuning', 'cannot tell at this scale')
"""
from __future__ import annotations

import math
import statistics
from pathlib import Path

from minion_tf.data.glue import TASKS
from minion_tf.reports.claims import FAILS, HOLDS, UNSURE, claim_row, verdict
from minion_tf.reports.compare import metric_difference
from minion_tf.reports.records import encoder_name, method_label
from minion_tf.reports.tables import val_score

SMALL = 10_000  # Pittsburgh: "sets under 10,000 examples"
MARGIN = 2.4  # points
TIME_RATIO = 0.67  # at least 33 % less training time
FT, HIGH_LR = ("finetune", 2e-5), 1e-3
LAST_KS = (4, 3, 2, 1)


def _groups(records: list[dict]) -> dict:
    """{(task, encoder, train n, train fraction): {(label, lr): [runs, lowest seed first]}}."""
    out: dict = {}
    for r in records:
        c = r["config"]
        key = (c["task"], c.get("encoder", "?"), r.get("data", {}).get("train"),
               c.get("train_fraction") if c["task"] == "imdb" else None)
        out.setdefault(key, {}).setdefault((method_label(c), c["lr"]), []).append(r)
    for methods in out.values():
        for runs in methods.values():
            runs.sort(key=lambda r: r["config"].get("seed", 0))
    return out


def _primary(record: dict) -> str:
    task = record["config"]["task"]
    return (record.get("task") or {}).get("metric") or TASKS[task].primary


def _mean_score(runs: list[dict]) -> float:
    return 100 * statistics.fmean(float(r["test"]["score"]) for r in runs)


def _scale(key: tuple, runs: list[dict]) -> str:
    task, encoder, train, fraction = key
    split = f", split {round(100 * fraction)}/{100 - round(100 * fraction)}" if fraction is not None else ""
    tests = runs[0]["test"].get("examples")
    return (f"{encoder_name(encoder)}, n = {train} train{split}" + (f", {tests} test" if tests else "")
            + f", {len(runs)} seed{'s' if len(runs) > 1 else ''}")


def paired(key: tuple, claim: str, a: list[dict] | None, b: list[dict] | None, names: tuple[str, str],
           judge) -> dict:
    """One claim row: `judge(low, high)` on the paired interval (points) of a - b's first seeds."""
    if not a or not b:
        missing = names[0] if not a else names[1]
        return claim_row(claim, UNSURE, f"no run of {missing} at {key[0]}, n = {key[2]} train")
    metric = _primary(a[0])
    found = metric_difference(Path(a[0]["run_dir"]), Path(b[0]["run_dir"]), metric)
    means = f"seed means {_mean_score(a):.1f} vs {_mean_score(b):.1f}"
    if found is None:
        return claim_row(claim, UNSURE, f"no paired test outputs; {means}; {_scale(key, a)}")
    diff, low, high = (100 * v for v in found)
    return claim_row(claim, judge(low, high), f"{names[0]} - {names[1]}: {diff:+.1f} [{low:+.1f}, {high:+.1f}] pts "
                                              f"{metric} (first seeds; {means}); {_scale(key, a)}")


def within(low: float, high: float, margin: float) -> str:
    """Equivalence: holds when [low, high] lies inside (-margin, margin), does not hold when wholly outside.

    Example:
        >>> within(-0.5, 0.8, 1.0), within(1.2, 3.0, 1.0), within(-2.0, 0.5, 1.0)
        ('holds', 'does not hold', 'cannot tell at this scale')
    """
    if math.isnan(low) or math.isnan(high):
        return UNSURE
    if -margin < low and high < margin:
        return HOLDS
    if high < -margin or low > margin:
        return FAILS
    return UNSURE


def _train_s(runs: list[dict]) -> float:
    values = [r.get("timings", {}).get("train_s") for r in runs]
    values = [float(v) for v in values if v is not None]
    return statistics.fmean(values) if values else math.nan


def time_claim(key: tuple, claim: str, a: list[dict] | None, b: list[dict] | None, names: tuple[str, str]) -> dict:
    """Holds when a's mean training time is below `TIME_RATIO` of b's (single measurements)."""
    if not a or not b:
        return claim_row(claim, UNSURE, f"no run of {names[0] if not a else names[1]} at {key[0]}, n = {key[2]} train")
    seconds_a, seconds_b = _train_s(a), _train_s(b)
    ratio = seconds_a / seconds_b if seconds_b > 0 else math.nan
    if not math.isfinite(ratio):
        return claim_row(claim, UNSURE, "no train_s in a run record")
    return claim_row(claim, verdict(ratio, ratio, TIME_RATIO, "lower"),
                     f"train s {names[0]} / {names[1]} = {ratio:.2f} ({seconds_a:.0f} / {seconds_b:.0f} s, seed "
                     f"means); single measurements, no interval; {_scale(key, a)}")


def pittsburgh_claims(records: list[dict]) -> list[dict]:
    """The GLUE claims: last-k on runs with under `SMALL` training examples (the run's own, after any cap);
    lr 1e-3 vs 2e-5 on every task."""
    rows = []
    for key, methods in sorted(_groups(records).items(), key=lambda kv: str(kv[0])):
        task, _, train, _ = key
        if task == "imdb" or task.startswith("text"):
            continue
        if FT in methods and train is not None and train < SMALL:
            for k in (4, 3):
                last = methods.get((f"freeze-{k}", 2e-5))
                names = (f"last-{k}", "full FT")
                rows.append(paired(key, f"{task}: last-{k} within {MARGIN} points of full fine-tuning", last,
                                   methods[FT], names, lambda lo, hi: verdict(lo, hi, -MARGIN)))
                rows.append(time_claim(key, f"{task}: last-{k} trains in at least 33 % less time than full "
                                            f"fine-tuning", last, methods[FT], names))
        for label in ("finetune", *[f"freeze-{k}" for k in LAST_KS]):
            low, high = methods.get((label, 2e-5)), methods.get((label, HIGH_LR))
            if low or high:
                name = "full FT" if label == "finetune" else f"last-{label.split('-')[1]}"
                rows.append(paired(key, f"{task}: {name} at lr 2e-5 better than at 1e-3", low, high,
                                   (f"{name} 2e-5", f"{name} 1e-3"), lambda lo, hi: verdict(lo, hi, 0.0)))
    return rows


def ucsd_claims(records: list[dict]) -> list[dict]:
    """The IMDb claims, per train/val split."""
    rows = []
    for key, methods in sorted(_groups(records).items(), key=lambda kv: str(kv[0])):
        if key[0] != "imdb":
            continue
        def runs_of(label):  # at its learning rate with the best validation score (first seeds)
            found = [runs for (name, _), runs in methods.items() if name == label]
            return max(found, key=lambda runs: val_score(runs[0]), default=None)

        ft = runs_of("finetune")
        split = f"imdb {round(100 * key[3])}/{100 - round(100 * key[3])}" if key[3] is not None else "imdb"
        rows.append(paired(key, f"{split}: encoder-only within 1 point of full fine-tuning", runs_of("encoder-only"),
                           ft, ("encoder-only", "full FT"), lambda lo, hi: within(lo, hi, 1.0)))
        rows.append(paired(key, f"{split}: embeddings-only more than 1 point behind full fine-tuning",
                           runs_of("embeddings-only"), ft, ("embeddings-only", "full FT"),
                           lambda lo, hi: verdict(lo, hi, -1.0, "lower")))
        for label in ("bitfit", "prompt-20"):
            runs = runs_of(label)
            share = ""
            if runs and runs[0].get("params", {}).get("total"):
                share = f" ({100 * runs[0]['params']['trainable'] / runs[0]['params']['total']:.2g} % trainable)"
            rows.append(paired(key, f"{split}: {label}{share} within 1 point of full fine-tuning", runs, ft,
                               (label, "full FT"), lambda lo, hi: verdict(lo, hi, -1.0)))
    return rows


def task_claim_rows(records: list[dict]) -> list[dict]:
    """Every GLUE and IMDb claim row (claim, verdict, numbers)."""
    return [*pittsburgh_claims(records), *ucsd_claims(records)]


TASK_CLAIMS_NOTE = (
    "Claims of the Pittsburgh GLUE and UCSD IMDb reports, judged per task and scale (last-k: runs with under "
    "10,000 training examples). Score differences: 95 % "
    "paired bootstrap interval over the test examples (2,000 resamples, seed 0) of the first seeds' runs, in "
    "points of the task's primary metric; holds when the whole interval is on the claim's side of its threshold "
    "(-2.4 points for last-k, 0 for the learning rates, -1 for BitFit and prompt, inside ±1 for encoder-only, "
    "below -1 for embeddings-only), does not hold when wholly on the other side, else cannot tell. Times: "
    "train s means over seeds, single measurements (holds below a ratio of 0.67). Built from run.json "
    "files and the test outputs saved beside them.")

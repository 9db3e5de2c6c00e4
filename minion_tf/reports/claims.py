"""The ETH MINION paper's claims on tweets as verdicts, from run records and the test outputs saved
beside them: "holds", "does not hold" or "cannot tell at this scale".

A claim is judged at every scale (encoder, training examples) that has a run it names, on the run
of each method there with the best validation accuracy. Accuracy and calibration claims read the
95 % paired bootstrap interval of the difference (`reports.compare.score_difference`); cost claims
read single measurements, a ratio with no interval. Missing runs or outputs give "cannot tell".

Example:
    >>> build_claims(Path("runs/tweets"), Path("results"))    # results/claims.md and claims.csv
    >>> verdict(-0.4, 0.9, threshold=-1.0)
    'holds'
"""
from __future__ import annotations

import math
from pathlib import Path

from minion_tf.errors import MinionError
from minion_tf.reports.compare import score_difference
from minion_tf.reports.markdown import interval_cell, write_table
from minion_tf.reports.records import encoder_name, record_method
from minion_tf.reports.tables import BASELINE, best_runs, load_records, peak_private_gib, scale

HOLDS, FAILS, UNSURE = "holds", "does not hold", "cannot tell at this scale"
MINION = "minion-64"  # the paper's main model
SCORE_NAMES = {"accuracy": "accuracy", "ace": "ACE"}


def verdict(low: float, high: float, threshold: float = 0.0, better: str = "higher") -> str:
    """"holds" when the whole interval [low, high] lies beyond `threshold` on the `better` side ("higher"
    or "lower"), "does not hold" when it lies wholly on the other side, else (it touches the threshold,
    or a bound is NaN) "cannot tell at this scale".

    Example:
        >>> verdict(-0.4, 0.9, threshold=-1.0), verdict(-2.5, -1.2, threshold=-1.0), verdict(-1.0, 0.3, -1.0)
        ('holds', 'does not hold', 'cannot tell at this scale')
    """
    if better not in ("higher", "lower"):
        raise MinionError(f"verdict: better must be 'higher' or 'lower', got {better!r}")
    if better == "lower":
        low, high, threshold = -high, -low, -threshold
    if low > threshold:
        return HOLDS
    if high < threshold:
        return FAILS
    return UNSURE


def claim_row(claim: str, outcome: str, numbers: str) -> dict:
    """One row of a claims table."""
    return {"claim": claim, "verdict": outcome, "numbers": numbers}


def _name(label: str) -> str:
    return "full FT" if label == BASELINE else label.upper()


def _scale_text(key: tuple, run: dict | None = None) -> str:
    encoder, train = key
    test = f", {run['test']['examples']} test" if run is not None else ""
    return f"{encoder_name(encoder)}, n = {train} train{test}"


def per_scale(records: list[dict], claim: str, label_a: str, label_b: str, judge) -> list[dict]:
    """One row per scale with a run of either method, in order: `judge(a, b)` -> (verdict, numbers) where
    both have a run, else "cannot tell" and "no run of ..."."""
    runs_a, runs_b = best_runs(records, label_a), best_runs(records, label_b)
    scales = sorted(set(runs_a) | set(runs_b), key=lambda k: (str(k[0]), -1 if k[1] is None else k[1]))
    if not scales:
        return [claim_row(claim, UNSURE, f"no run of {_name(label_a)} or {_name(label_b)}")]
    rows = []
    for key in scales:
        a, b = runs_a.get(key), runs_b.get(key)
        if a is None or b is None:
            rows.append(claim_row(claim, UNSURE, f"no run of {_name(label_a if a is None else label_b)} at "
                                            f"{_scale_text(key)}"))
        else:
            outcome, numbers = judge(a, b)
            rows.append(claim_row(claim, outcome, f"{numbers}; {_scale_text(key, a)}"))
    return rows


def paired_claim(records: list[dict], claim: str, label_a: str, label_b: str, score: str, threshold: float,
                 better: str) -> list[dict]:
    """One row per scale: the verdict of the paired interval of `score` (a - b, in points) against `threshold`.

    Example:
        >>> paired_claim(records, "MINION-64 within 1 point of full FT", "minion-64", "finetune", "accuracy",
        ...              -1.0, "higher")[0]["numbers"]
        'MINION-64 - full FT: -0.4 [-1.8, +1.0] pts accuracy; MiniLM-L6, n = 16000 train, 2000 test'
    """
    def judge(a: dict, b: dict) -> tuple[str, str]:
        found = score_difference(Path(a["_dir"]), Path(b["_dir"]), score)
        if found is None:
            return UNSURE, "no paired test outputs (test_probs.npy / test_labels.npy missing, or other test examples)"
        points = tuple(100 * v for v in found)
        return (verdict(points[1], points[2], threshold, better),
                f"{_name(label_a)} - {_name(label_b)}: {interval_cell(points)} pts {SCORE_NAMES[score]}")

    return per_scale(records, claim, label_a, label_b, judge)


def accuracy_claim(records: list[dict]) -> list[dict]:
    """(a) MINION-64's test accuracy is within 1 point of full fine-tuning's (or above it)."""
    return paired_claim(records, "(a) MINION-64 accuracy within 1 point of full fine-tuning", MINION, BASELINE,
                        "accuracy", -1.0, "higher")


def calibration_claim(records: list[dict]) -> list[dict]:
    """(b) MINION-64's test ACE is below full fine-tuning's."""
    return paired_claim(records, "(b) MINION-64 ACE below full fine-tuning's", MINION, BASELINE, "ace", 0.0,
                        "lower")


def side_sizes(records: list[dict]) -> list[str]:
    """The hidden sizes h of the MINION and READ runs, in increasing order.

    Example:
        >>> side_sizes(records)
        ['8', '64']
    """
    sizes = set()
    for record in records:
        method = record_method(record["config"])
        if method is not None and method.name in ("minion", "read"):
            sizes.add(method.size())
    return sorted(sizes, key=float)


def minion_vs_read_claims(records: list[dict]) -> list[dict]:
    """(c) MINION-h is at least as accurate as READ-h, for every h with a MINION or READ run."""
    sizes = side_sizes(records)
    if not sizes:
        return [claim_row("(c) MINION at least as accurate as READ of the same hidden size", UNSURE,
                     "no run of MINION or READ")]
    return [row for h in sizes for row in paired_claim(
        records, f"(c) MINION-{h} at least as accurate as READ-{h}", f"minion-{h}", f"read-{h}", "accuracy", 0.0,
        "higher")]


SIDE_METHODS = ("read", "minion", "lst")  # they share one hidden-state cache per encoder and data


def cache_build(records: list[dict], key: tuple) -> tuple[float, float]:
    """(seconds, private GiB) of building the hidden-state cache at scale `key`: the cache phase of the
    side-network run there that spent longest on it (the one that built it). The others only opened it, and
    their memory in that phase is what their process already held from earlier runs, not the build's."""
    side = [r for r in records if scale(r) == key and getattr(record_method(r["config"]), "name", None) in SIDE_METHODS]

    def seconds(r: dict) -> float:
        return float(r.get("timings", {}).get("cache_s") or 0.0)

    builder = max(side, key=seconds, default=None)
    if builder is None:
        return 0.0, 0.0
    return seconds(builder), builder.get("memory", {}).get("cache", {}).get("private_peak_gib") or 0.0


def run_seconds(record: dict, records: list[dict]) -> float:
    """The whole run's wall time (data, cache build, training, test), s, charged with the cache build even when
    another run built the cache it read; NaN without."""
    timings = record.get("timings", {})
    if timings.get("total_s") is None:
        return math.nan
    if "cache_s" not in timings:  # it read no cache
        return float(timings["total_s"])
    own = float(timings["cache_s"])
    return float(timings["total_s"]) - own + max(own, cache_build(records, scale(record))[0])


def charged_private_gib(record: dict, records: list[dict]) -> float:
    """`peak_private_gib`, at least the cache build's peak for a run that read a cache another run built."""
    built = cache_build(records, scale(record))[1] if "cache_s" in record.get("timings", {}) else 0.0
    return max(peak_private_gib(record), built)


def cost_claim(records: list[dict], cost: str, measure, unit: str) -> list[dict]:
    """(d) for one cost: MINION-64's `measure(run, records)` over full fine-tuning's per scale; below 1 holds.

    Example:
        >>> cost_claim(records, "time", run_seconds, "s, whole run")[0]["numbers"]
        'MINION-64 / full FT = 0.12 (219.6 / 1830.0 s, whole run); single measurements, no interval; ...'
    """
    def judge(minion: dict, finetune: dict) -> tuple[str, str]:
        a, b = measure(minion, records), measure(finetune, records)
        ratio = a / b if b > 0 else math.nan
        if not math.isfinite(ratio):
            return UNSURE, f"no {cost} figure in a run record"
        return (verdict(ratio, ratio, 1.0, "lower"),
                f"MINION-64 / full FT = {ratio:.2f} ({a:.1f} / {b:.1f} {unit}); single measurements, no interval")

    return per_scale(records, f"(d) side-tuning (MINION-64) {cost} below full fine-tuning's", MINION, BASELINE,
                     judge)


def cost_claims(records: list[dict]) -> list[dict]:
    """(d) Side-tuning (MINION-64) costs less than full fine-tuning: whole-run time, then peak private memory,
    each charged with the cache build."""
    return [*cost_claim(records, "time", run_seconds, "s, whole run with the cache build"),
            *cost_claim(records, "peak private memory", charged_private_gib, "GiB, all phases and the cache build")]


def claim_rows(records: list[dict]) -> list[dict]:
    """Every claim's rows, (a) to (d)."""
    return [*accuracy_claim(records), *calibration_claim(records), *minion_vs_read_claims(records),
            *cost_claims(records)]


CLAIMS_NOTE = (
    "Claims of the ETH MINION paper on tweets, judged per scale on the run of each method with the best "
    "validation accuracy. (a)-(c): 95 % paired bootstrap interval over the test examples (2,000 resamples, "
    "seed 0) of the difference in points; holds when the whole interval is on the claim's side of the "
    "threshold (-1 point for (a), 0 otherwise), does not hold when it is wholly on the other side, else cannot "
    "tell. (d): ratios of single measurements (no interval): holds below 1, does not hold above 1. "
    "Built from run.json files and the test outputs saved beside them.")


def build_claims(runs: Path, out: Path) -> list[Path]:
    """Write claims.md and claims.csv (claim, verdict, numbers) into `out`; return the paths.

    Example:
        >>> build_claims(Path("runs/tweets"), Path("results"))
        [PosixPath('results/claims.md'), PosixPath('results/claims.csv')]
    """
    return write_table(claim_rows(load_records(runs)), Path(out) / "claims", columns=["claim", "verdict", "numbers"],
                       note=CLAIMS_NOTE)

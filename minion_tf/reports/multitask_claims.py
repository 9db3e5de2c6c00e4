"""Intervals of the multi-task minBERT scores and the CS224N reports' claims as verdicts, from the dev
outputs a run saves beside its run.json (`dev_sst_predictions.npy`, `dev_sst_labels.npy`, ... one pair
per task).

The overall score mixes three dev sets, so its bootstrap resamples each task's examples on their own
(a stratified bootstrap), and a paired one resamples the same examples for both runs. The reports add
each extension to make the model better, so the claim judged for each is that it beats the baseline:
PCGrad, GSE and SMART on the overall score, the cosine STS heads on STS r (the one task they change).

Example:
    >>> outputs = saved_dev_outputs(Path("runs/multitask/minbert-multitask-lr0.0001-s0-1a2b3c4d"))
    >>> dev_interval(outputs, "score")                          # (0.571, 0.603)
    >>> paired_dev_interval(pcgrad_outputs, outputs, "score")   # (-0.002, -0.015, 0.011)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from minion_tf.metrics.task_metrics import minbert_metrics
from minion_tf.reports.claims import UNSURE, claim_row, verdict

TASKS = ("sst", "para", "sts")
METRIC_NAMES = {"score": "score", "sst_accuracy": "SST acc", "para_accuracy": "paraphrase acc",
                "sts_pearson": "STS r"}
CLAIMS = (  # (row, claim, metric)
    ("pcgrad", "+ PCGrad scores above the baseline", "score"),
    ("gse", "+ GSE scores above the baseline", "score"),
    ("smart", "+ SMART scores above the baseline", "score"),
    ("sts-cosine", "cosine STS head (5 sigmoid(20 cos)) has a higher STS r than the MLP head", "sts_pearson"),
    ("sts-uvcos", "[u; v; cos] STS head has a higher STS r than the MLP head", "sts_pearson"),
)


def saved_dev_outputs(folder: Path) -> dict | None:
    """{task: (predictions, labels)} of a multi-task run's dev sets; None when a file is missing."""
    out = {}
    for task in TASKS:
        predictions, labels = (Path(folder) / f"dev_{task}_{kind}.npy" for kind in ("predictions", "labels"))
        if not (predictions.is_file() and labels.is_file()):
            return None
        out[task] = (np.load(predictions), np.load(labels))
    return out


def _metric(outputs: dict, picks: dict, metric: str) -> float:
    scored = minbert_metrics({t: p[picks[t]] for t, (p, _) in outputs.items()},
                               {t: y[picks[t]] for t, (_, y) in outputs.items()})
    return scored[metric]


def _draws(outputs: dict, draws: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(draws):
        yield {t: rng.integers(0, len(y), len(y)) for t, (_, y) in outputs.items()}


def _percentiles(values: list[float], level: float) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def dev_interval(outputs: dict, metric: str, level: float = 0.95, draws: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    """The `level` percentile interval of `metric` ("score", "sst_accuracy", "para_accuracy",
    "sts_pearson"), each task's dev examples resampled on their own."""
    return _percentiles([_metric(outputs, picks, metric) for picks in _draws(outputs, draws, seed)], level)


def paired_dev_interval(outputs_a: dict, outputs_b: dict, metric: str, level: float = 0.95, draws: int = 2000,
                        seed: int = 0) -> tuple[float, float, float]:
    """(a - b, low, high) of `metric` on the same dev examples, resampled together (per task)."""
    everything = {t: np.arange(len(y)) for t, (_, y) in outputs_a.items()}
    diff = _metric(outputs_a, everything, metric) - _metric(outputs_b, everything, metric)
    values = [_metric(outputs_a, picks, metric) - _metric(outputs_b, picks, metric)
              for picks in _draws(outputs_a, draws, seed)]
    return (diff, *_percentiles(values, level))


def same_dev_examples(outputs_a: dict, outputs_b: dict) -> bool:
    """Whether two runs were scored on the same dev examples (their labels agree task by task)."""
    return all(np.array_equal(outputs_a[t][1], outputs_b[t][1]) for t in TASKS)


def multitask_claim_rows(rows: dict) -> list[dict]:
    """One claim row per extension in `CLAIMS`, from {row name: run folder}; verdicts read the paired
    interval (points) of the row against the baseline."""
    base = rows.get("baseline")
    base_outputs = saved_dev_outputs(base) if base is not None else None
    out = []
    for name, claim, metric in CLAIMS:
        folder = rows.get(name)
        outputs = saved_dev_outputs(folder) if folder is not None else None
        if base is None or folder is None:
            out.append(claim_row(claim, UNSURE, f"no run of the {'baseline' if base is None else name} row"))
        elif outputs is None or base_outputs is None or not same_dev_examples(outputs, base_outputs):
            out.append(claim_row(claim, UNSURE, "no paired dev outputs (dev_*_predictions.npy missing, or other "
                                                "dev examples)"))
        else:
            diff, low, high = (100 * v for v in paired_dev_interval(outputs, base_outputs, metric))
            sizes = ", ".join(f"{t} {len(outputs[t][1])}" for t in TASKS)
            out.append(claim_row(claim, verdict(low, high, 0.0), f"{name} - baseline: {diff:+.1f} [{low:+.1f}, "
                                 f"{high:+.1f}] pts {METRIC_NAMES[metric]}; dev n: {sizes}; one seed"))
    return out


CLAIMS_NOTE = (
    "Claims of the CS224N minBERT reports: each extension is judged against the baseline row on the same dev "
    "examples, by the 95 % paired bootstrap interval of the difference (2,000 resamples, seed 0, each task's "
    "dev set resampled on its own), in points (the score and STS r times 100). Holds when the whole interval "
    "is above 0, does not hold when it is wholly below, else cannot tell. One seed per row: the interval covers "
    "the dev sample, not the run-to-run spread of training.")

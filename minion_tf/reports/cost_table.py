"""The cost of every tweet run against full fine-tuning at its scale, from the suite's run records: the
whole run, one steady epoch and peak private memory, each also as a ratio (`benchmarks/cost.py`'s
figures, here from the runs of a real suite instead of separate measurements).

A side-network run that read a cache another run built is charged with that build (`claims.run_seconds`,
`claims.charged_private_gib`), so the suite's order does not make one method look cheap. The steady
epoch is the 2nd epoch's duration (the 1st includes tracing); single measurements, no interval.

Example:
    >>> build_cost_table(Path("runs/scale/tweets"), Path("results"))   # results/cost_at_scale.md and .csv
"""
from __future__ import annotations

import math
from pathlib import Path

from minion_tf.reports.claims import charged_private_gib, run_seconds
from minion_tf.reports.markdown import write_table
from minion_tf.reports.records import encoder_name, machine_text, method_label
from minion_tf.reports.tables import BASELINE, best_runs, load_records, model_name, scale


def steady_epoch_s(record: dict) -> float:
    """The 2nd epoch's seconds (the 1st without one); NaN when the record has no epoch durations."""
    seconds = [e.get("duration_s") for e in record.get("epochs", [])]
    seconds = [float(s) for s in seconds if s is not None]
    return seconds[1] if len(seconds) > 1 else seconds[0] if seconds else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if math.isfinite(a) and math.isfinite(b) and b > 0 else math.nan


def _figures(record: dict | None, records: list[dict]) -> dict:
    if record is None:
        return {}
    return {"whole run s": run_seconds(record, records), "epoch s": steady_epoch_s(record),
            "peak private GiB": charged_private_gib(record, records)}


def cost_rows(records: list[dict]) -> list[dict]:
    """One row per method and scale, its run at the learning rate with the best validation accuracy; in the
    tables' method order within each scale."""
    baselines, rows, seen = best_runs(records, BASELINE), [], set()
    for r in records:
        label, key = method_label(r["config"]), scale(r)
        if (label, key) in seen:
            continue
        seen.add((label, key))
        record = best_runs(records, label)[key]
        figures, base = _figures(record, records), _figures(baselines.get(key), records)
        rows.append({"model": model_name(record), "encoder": encoder_name(key[0]), "train n": key[1],
                     "epochs": len(record.get("epochs", [])), **figures,
                     **{f"{name} ÷ FT": _ratio(value, base.get(name, math.nan)) for name, value in figures.items()}})
    return sorted(rows, key=lambda row: (row["encoder"], row["train n"] or 0))


COST_NOTE = (
    "Whole run: wall time of data, cache build, training and test, s; a side-network run that read a cache "
    "another run built is charged with the build (and with its memory peak). Epoch: the 2nd epoch's duration "
    "(the 1st includes tracing). Peak private: the highest private memory of any phase. ÷ FT: over full "
    "fine-tuning of the same encoder and training size. One run each, at the learning rate with the best "
    "validation accuracy; single measurements on {machine}, no interval. Built from run.json files.")


def build_cost_table(runs: Path, out: Path) -> list[Path]:
    """Write cost_at_scale.md and .csv into `out`; return the paths."""
    records = load_records(runs)
    return write_table(cost_rows(records), Path(out) / "cost_at_scale",
                       note=COST_NOTE.format(machine=machine_text(records)))

"""The paper's Tables I and II and its Fig. 3, rebuilt from run.json files only.

Table I: model, type, training method, trainable %, lr. Table II: test accuracy and ACE with
their 95 % bootstrap intervals, MCE (x100, K = 20), each run's paired difference in accuracy and
ACE against full fine-tuning at the same scale, energy and power (GPU by the paper's eq. 2, CPU
by RAPL), peak memory (GPU and process RSS) and wall time. A figure is NaN where the machine
cannot measure it; the table's note says which. The intervals come from the test probabilities
and labels saved beside each run.json (empty without them). The paper's own Tables I and II
follow our rows, marked "(paper)" (`reports.published`). Fig. 3: test reliability curves of all runs in
one plot.

Example:
    >>> build_tables(Path("runs/tweets"), Path("results"))   # results/table1.md/.csv, table2, calibration.png
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from minion_tf.errors import MinionError
from minion_tf.reports.compare import in_points, score_difference, score_interval
from minion_tf.reports.markdown import write_table
from minion_tf.reports.published import PAPER, PAPER_TABLE1, PAPER_TABLE2, PAPER_TRAIN_TWEETS, paper_rows
from minion_tf.reports.records import display_name, method_kind, method_label, method_rank

BASELINE = "finetune"  # the method label every other row of Table II is compared with
OURS = "this package"  # the source of a row from our runs (the papers' rows are marked)


def load_records(runs: Path) -> list[dict]:
    """Every finished run under `runs` (any depth), ordered as the paper's tables."""
    paths = sorted(Path(runs).rglob("run.json"))
    if not paths:
        raise MinionError(f"{runs}: no run.json found (no finished runs)")
    records = []
    for path in paths:
        try:
            record = json.loads(path.read_text())
            if record["config"].get("task", "tweets") != "tweets" or "model" not in record["config"]:
                continue  # GLUE, IMDb, minBERT (also the multi-task records of before): the task reports
            record["config"]["lr"]
            method_rank(record["config"])  # the model is named and its own options are valid
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, MinionError) as err:
            raise MinionError(f"{path}: not a run record ({type(err).__name__}: {err})") from None
        record["_dir"] = str(path.parent)
        records.append(record)
    if not records:
        raise MinionError(f"{runs}: no finished tweet runs (GLUE, IMDb and your own data: experiments/task_tables.py)")
    return sorted(records, key=lambda r: (*method_rank(r["config"]), r["config"]["lr"]))


def model_name(record: dict) -> str:
    """The row's name: the method's display name (`MINION-64`, `MiniLM-L6 (fine-tuned)`)."""
    return display_name(record["config"])


def table1_row(record: dict) -> dict:
    c, params = record["config"], record["params"]
    kind, method = method_kind(c)
    return {"model": model_name(record), "type": kind, "training method": method,
            "trainable %": 100 * params["trainable"] / params["total"], "trainable params": params["trainable"],
            "lr": c["lr"]}


def scale(record: dict) -> tuple:
    """The scale runs are compared at: (encoder, training examples)."""
    return record["config"].get("encoder", "?"), record["data"]["train"]


def val_score(record: dict) -> float:
    """The best validation accuracy over the run's epochs (-inf without one), which picks among runs."""
    scores = [e.get("val_score", e.get("val_accuracy")) for e in record.get("epochs", [])]
    scores = [s for s in scores if s is not None and not math.isnan(s)]
    return max(scores, default=-math.inf)


def best_runs(records: list[dict], label: str) -> dict:
    """{scale: the run of method `label` there with the best validation accuracy (the first on ties)}.

    Example:
        >>> best_runs(load_records(Path("runs")), "minion-64")
        {('minilm', 16000): {...the lr 3e-4 run...}}
    """
    best: dict = {}
    for record in records:
        key = scale(record)
        if method_label(record["config"]) == label and (key not in best or val_score(record) > val_score(best[key])):
            best[key] = record
    return best


def peak_private_gib(record: dict) -> float:
    """The run's peak private memory over all its phases (startup, cache, train, test), GiB; NaN without."""
    peaks = [phase.get("private_peak_gib", math.nan) for phase in record.get("memory", {}).values()]
    peaks = [p for p in peaks if p is not None and not math.isnan(p)]
    return max(peaks, default=math.nan)


def table2_row(record: dict, baseline: dict | None = None) -> dict:
    """Table II's row of a run; with `baseline` (full fine-tuning at its scale) also the paired differences.

    Example:
        >>> table2_row(minion, finetune)["accuracy vs FT pts"]   # MINION's accuracy minus fine-tuning's
        -1.2
    """
    test, energy, folder = record["test"], record.get("energy", {}), Path(record["_dir"])
    accuracy, ace = (in_points(score_interval(folder, s)) for s in ("accuracy", "ace"))
    vs = {s: in_points(None if baseline is None else score_difference(folder, Path(baseline["_dir"]), s))
          for s in ("accuracy", "ace")}
    return {"model": model_name(record), "train n": record["data"]["train"], "test n": test["examples"],
            "accuracy %": 100 * test["accuracy"], "accuracy % low": accuracy[0], "accuracy % high": accuracy[1],
            "ACE %": 100 * test["ace"], "ACE % low": ace[0], "ACE % high": ace[1], "MCE %": 100 * test["mce"],
            **_difference("accuracy vs FT pts", vs["accuracy"]), **_difference("ACE vs FT pts", vs["ace"]),
            "GPU energy kWh": energy.get("energy_kwh"), "CPU energy kWh": energy.get("cpu_energy_kwh"),
            "power kW": energy.get("power_kw"), "GPU peak GiB": energy.get("gpu_mem_peak_gib"),
            "peak private GiB": peak_private_gib(record), "peak RSS GiB": energy.get("rss_peak_gib"),
            "train s": record["timings"].get("train_s"),
            "wall s": record["timings"].get("total_s")}


def _difference(name: str, values: tuple) -> dict:
    return dict(zip((name, f"{name} low", f"{name} high"), values))


TABLE2_JOINED = {"accuracy 95% CI": ("accuracy % low", "accuracy % high"),
                 "ACE 95% CI": ("ACE % low", "ACE % high"),
                 "accuracy vs FT pts": ("accuracy vs FT pts", "accuracy vs FT pts low", "accuracy vs FT pts high"),
                 "ACE vs FT pts": ("ACE vs FT pts", "ACE vs FT pts low", "ACE vs FT pts high")}


def table2_rows(records: list[dict]) -> list[dict]:
    """Table II's rows: every run, each but full fine-tuning compared with the best fine-tuning run at its scale."""
    baselines = best_runs(records, BASELINE)
    return [table2_row(r, None if method_label(r["config"]) == BASELINE else baselines.get(scale(r)))
            for r in records]


INTERVAL_NOTE = (
    "95 % CI: percentile bootstrap over the test examples (2,000 resamples, seed 0) of accuracy and ACE, from "
    "the test probabilities saved beside run.json. ACE is biased upwards on resamples, so its interval can lie "
    "mostly above the estimate. vs FT pts: this run minus full fine-tuning of the same encoder and training "
    "size (its run with the best validation accuracy), in points, with the 95 % paired bootstrap interval over "
    "the same resamples. Empty (—) where a run has no saved test outputs or the two runs were tested on "
    "different examples.")


def _unmeasured(rows: list[dict], columns: list[str]) -> list[str]:
    return [c for c in columns if all(r.get(c) is None or (isinstance(r[c], float) and math.isnan(r[c]))
                                      for r in rows)]


def build_tables(runs: Path, out: Path) -> list[Path]:
    """Write table1, table2 (Markdown + CSV) and calibration.png into `out`; return the paths."""
    from minion_tf.metrics.reliability_plot import plot_reliability

    records = load_records(runs)
    out = Path(out)
    rows = [{**table1_row(r), "source": OURS} for r in records]
    paths = write_table(rows + paper_rows(PAPER_TABLE1, "trainable %"), out / "table1", columns=list(rows[0]),
                        note="Trainable % = trainable / all parameters (encoder + head or side network). "
                             f"Built from run.json files only; rows marked (paper) are the {PAPER}'s Table I, "
                             "not our runs.")
    rows = [{**row, "source": OURS} for row in table2_rows(records)]
    missing = _unmeasured(rows, ["GPU energy kWh", "CPU energy kWh", "power kW", "GPU peak GiB"])
    note = ("Test split; ACE (equal-count bins) and MCE (equal-width bins), K = 20. " + INTERVAL_NOTE +
            " Peak private is the highest private (anonymous) memory of any phase of the run; peak RSS is the "
            "process's peak resident memory during training; wall s is the whole run (data, cache build, training, "
            "test).")
    if missing:
        note += (f" Not measurable on this machine (shown as —): {', '.join(missing)} — no NVIDIA GPU (NVML "
                 "absent) and no readable RAPL energy counter; wall time and RSS are the cost figures here.")
    most = max(r.get("data", {}).get("train", 0) for r in records)
    note += (f" Rows marked (paper) are the {PAPER}'s Table II, not our runs: a yardstick at a larger encoder "
             f"and {'about %.0f times' % (PAPER_TRAIN_TWEETS / most) if most else 'more of'} the training data.")
    paths += write_table(rows + paper_rows(PAPER_TABLE2), out / "table2", columns=list(rows[0]), note=note,
                         joined=TABLE2_JOINED)
    curves = {model_name(r): r["test"]["reliability"] for r in records}
    paths.append(plot_reliability(curves, out / "calibration.png",
                                  title="Test reliability (equal-width bins, K = 20)"))
    return paths

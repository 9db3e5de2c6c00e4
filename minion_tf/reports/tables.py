"""The paper's Tables I and II and its Fig. 3, rebuilt from run.json files only.

Table I: model, type, training method, trainable %, lr. Table II: test accuracy, ACE, MCE
(x100, K = 20), energy and power (GPU by the paper's eq. 2, CPU by RAPL), peak memory (GPU
and process RSS) and wall time. A figure is NaN where the machine cannot measure it; the
table's note says which. Fig. 3: test reliability curves of all runs in one plot.

Example:
    >>> build_tables(Path("runs/tweets"), Path("results"))   # results/table1.md/.csv, table2, calibration.png
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from minion_tf.errors import MinionError
from minion_tf.reports.markdown import write_table
from minion_tf.reports.records import display_name, method_kind, method_rank


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


def table2_row(record: dict) -> dict:
    test, energy = record["test"], record.get("energy", {})
    return {"model": model_name(record), "train n": record["data"]["train"], "test n": test["examples"],
            "accuracy %": 100 * test["accuracy"], "ACE %": 100 * test["ace"], "MCE %": 100 * test["mce"],
            "GPU energy kWh": energy.get("energy_kwh"), "CPU energy kWh": energy.get("cpu_energy_kwh"),
            "power kW": energy.get("power_kw"), "GPU peak GiB": energy.get("gpu_mem_peak_gib"),
            "peak RSS GiB": energy.get("rss_peak_gib"), "train s": record["timings"].get("train_s"),
            "wall s": record["timings"].get("total_s")}


def _unmeasured(rows: list[dict], columns: list[str]) -> list[str]:
    return [c for c in columns if all(r.get(c) is None or (isinstance(r[c], float) and math.isnan(r[c]))
                                      for r in rows)]


def build_tables(runs: Path, out: Path) -> list[Path]:
    """Write table1, table2 (Markdown + CSV) and calibration.png into `out`; return the paths."""
    from minion_tf.metrics.reliability_plot import plot_reliability

    records = load_records(runs)
    out = Path(out)
    paths = write_table([table1_row(r) for r in records], out / "table1",
                        note="Trainable % = trainable / all parameters (encoder + head or side network). "
                             "Built from run.json files only.")
    rows = [table2_row(r) for r in records]
    missing = _unmeasured(rows, ["GPU energy kWh", "CPU energy kWh", "power kW", "GPU peak GiB"])
    note = ("Test split; ACE (equal-count bins) and MCE (equal-width bins), K = 20. Peak RSS is the process's "
            "peak resident memory during training; wall s is the whole run (data, cache build, training, test).")
    if missing:
        note += (f" Not measurable on this machine (shown as —): {', '.join(missing)} — no NVIDIA GPU (NVML "
                 "absent) and no readable RAPL energy counter; wall time and RSS are the cost figures here.")
    paths += write_table(rows, out / "table2", note=note)
    curves = {model_name(r): r["test"]["reliability"] for r in records}
    paths.append(plot_reliability(curves, out / "calibration.png",
                                  title="Test reliability (equal-width bins, K = 20)"))
    return paths

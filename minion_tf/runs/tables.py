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

KIND = {  # model -> (type, training method)
    "fasttext": ("bag of words", "supervised fastText (SGD)"),
    "finetune": ("transformer", "full fine-tuning"),
    "read": ("transformer + GRU side network", "side-tuning, READ (parallel RNN over layers)"),
    "minion": ("transformer + GRU side network", "side-tuning, MINION (orthogonal RNN over tokens)"),
}
ORDER = ("fasttext", "finetune", "read", "minion")
ENCODER_NAMES = {"minilm": "MiniLM-L6"}


def load_records(runs: Path) -> list[dict]:
    """Every finished run under `runs` (any depth), ordered as the paper's tables."""
    paths = sorted(Path(runs).rglob("run.json"))
    if not paths:
        raise MinionError(f"{runs}: no run.json found (no finished runs)")
    records = []
    for path in paths:
        try:
            record = json.loads(path.read_text())
            record["config"]["model"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise MinionError(f"{path}: not a run record ({type(err).__name__}: {err})") from None
        record["_dir"] = str(path.parent)
        records.append(record)

    def key(r):
        c = r["config"]
        return (ORDER.index(c["model"]) if c["model"] in ORDER else len(ORDER), c["model"], c["hidden"], c["lr"])

    return sorted(records, key=key)


def model_name(record: dict) -> str:
    c = record["config"]
    encoder = ENCODER_NAMES.get(c["encoder"], Path(c["encoder"]).name)
    return {"fasttext": "FastText", "finetune": f"{encoder} (fine-tuned)"}.get(
        c["model"], f"{c['model'].upper()}-{c['hidden']}")


def table1_row(record: dict) -> dict:
    c, params = record["config"], record["params"]
    kind, method = KIND.get(c["model"], ("?", c["model"]))
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
    from minion_tf.runs.report import write_table

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

"""The hidden-state cache's storage options (`--cache-dtype`, `--cache-layers`) against float16 with every
state, on the same run and test examples: bytes a token, accuracy and ACE with 95 % intervals, and the paired
differences (`experiments/cache_options.py` runs them).

Example:
    >>> build_cache_options(sorted(Path("results/cache_options").iterdir()), Path("results"))   # .md and .csv
"""
from __future__ import annotations

import json
from pathlib import Path

from minion_tf.errors import MinionError
from minion_tf.reports.compare import in_points, score_difference, score_interval
from minion_tf.reports.markdown import write_table
from minion_tf.reports.records import display_name, encoder_name, machine_text

JOINED = {"accuracy 95% CI": ("accuracy % low", "accuracy % high"), "ACE 95% CI": ("ACE % low", "ACE % high"),
          "accuracy vs float16 pts": ("accuracy vs float16 pts", "accuracy vs float16 pts low",
                                      "accuracy vs float16 pts high"),
          "ACE vs float16 pts": ("ACE vs float16 pts", "ACE vs float16 pts low", "ACE vs float16 pts high")}
BAR = 0.2  # issue 15's bar for int8: at most 0.2 points of accuracy lost


def option_name(config: dict) -> str:
    dtype, layers = config.get("cache_dtype", "float16"), config.get("cache_layers")
    return f"{dtype}, {'every state' if layers is None else 'states ' + layers}"


def option_rows(records: dict[Path, dict]) -> list[dict]:
    """One row per run ({folder: record}, in its order), the float16 run with every state first; each compared
    with that one."""
    base = [f for f, r in records.items() if option_name(r["config"]) == "float16, every state"]
    if len(base) != 1:
        raise MinionError(f"{len(base)} runs with a float16 cache of every state among {len(records)}; the table "
                          "compares each option with exactly one")
    base_bytes = records[base[0]]["cache_estimate_bytes"]
    rows = []
    for folder in sorted(records, key=lambda f: f not in base):  # stable: the others in the order given
        record = records[folder]
        accuracy, ace = score_interval(folder, "accuracy"), score_interval(folder, "ace")
        vs_acc = None if folder in base else score_difference(folder, base[0], "accuracy")
        vs_ace = None if folder in base else score_difference(folder, base[0], "ace")
        rows.append({
            "cache": option_name(record["config"]), "bytes a token": record["cache_estimate_bytes"] // record[
                "num_tokens"], "cache GB": record["cache_estimate_bytes"] / 1e9,
            "÷ float16": record["cache_estimate_bytes"] / base_bytes, "trainable": record["params"]["trainable"],
            "accuracy %": 100 * record["test"]["accuracy"],
            **dict(zip(JOINED["accuracy 95% CI"], in_points(accuracy))),
            "ACE %": 100 * record["test"]["ace"], **dict(zip(JOINED["ACE 95% CI"], in_points(ace))),
            **dict(zip(JOINED["accuracy vs float16 pts"], in_points(vs_acc))),
            **dict(zip(JOINED["ACE vs float16 pts"], in_points(vs_ace))),
            "train s": record["timings"]["train_s"]})
    return rows


def findings(rows: list[dict]) -> list[str]:
    """One line per option: its bytes and its accuracy change; int8 against the issue's bar."""
    lines = []
    for row in rows[1:]:
        diff, low, high = (row[f"accuracy vs float16 pts{s}"] for s in ("", " low", " high"))
        change = "no paired outputs" if diff is None else f"{diff:+.2f} points [{low:+.2f}, {high:+.2f}]"
        line = f"- {row['cache']}: {row['÷ float16']:.3f} of the bytes, accuracy {change}"
        if row["cache"].startswith("int8, every") and diff is not None:
            met = diff >= -BAR and row["÷ float16"] <= 0.51
            line += (f"; the bar (at most {BAR} points lost at about half the bytes) is "
                     f"{'met' if met else 'not met'} by the estimate")
        lines.append(line + ".")
    return lines


def build_cache_options(folders: list[Path], out: Path) -> list[Path]:
    """cache_options.md and .csv in `out` from finished runs' folders (one run per option)."""
    records = {Path(f): json.loads((Path(f) / "run.json").read_text()) for f in folders}
    rows = option_rows(records)
    first = next(iter(records.values()))
    data, config = first["data"], first["config"]
    note = "\n".join([
        "", *findings(rows), "",
        f"Scale: {display_name(config)} over {encoder_name(config['encoder'])}, {data['train']:,} train / "
        f"{data['val']:,} val / {data['test']:,} test examples, {config['epochs']} epochs, batch "
        f"{config['batch_size']}, seed {config['seed']}, one run per option. Bytes a token: the states only (× tokens = cache GB); ÷ float16: "
        "over the float16 cache of every state. 95 % CI: percentile bootstrap over the test examples (2,000 "
        "resamples, seed 0; ACE is biased upwards on resamples, so its interval can lie mostly above the "
        "estimate); vs float16: this option minus float16 with every state, paired on the same test "
        f"examples. Train s: single measurements on {machine_text(records.values())}, no interval. Built from the "
        "run.json files and test outputs in the runs' folders."])
    return write_table(rows, Path(out) / "cache_options", note=note, joined=JOINED)

"""Tables I-II and the calibration figure, from fabricated but valid run JSONs only."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_runs import outputs, record, save_outputs, write_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def runs(tmp_path):
    fabricated = {
        "minion-h64-lr0.0003-s0-aa": record("minion", 64, 3e-4, 174_082, 22_887_298, 0.80, 0.02, 0.10, 2.5, 300),
        "fasttext-h64-lr0.1-s0-bb": record("fasttext", 64, 0.1, 1000, 1000, 0.75, 0.05, 0.2, 0.5, 5),
        "read-h8-lr0.001-s0-cc": record("read", 8, 1e-3, 20_000, 22_733_000, 0.78, 0.03, 0.15, 2.4, 250),
        "finetune-h64-lr2e-05-s0-dd": record("finetune", 64, 2e-5, 22_566_146, 22_713_986, 0.81, 0.06, 0.2, 6.0,
                                             3000),
    }
    for name, rec in fabricated.items():
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "run.json").write_text(json.dumps(rec))
    (tmp_path / "runs" / "minion-h8-unfinished" / "progress").mkdir(parents=True)  # no run.json: left out
    return tmp_path / "runs"


def test_tables_have_the_paper_rows_in_order_with_the_expected_figures(runs, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / "tables.py"), "--runs", str(runs),
                             "--out", str(tmp_path / "results")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-1500:]
    table1 = list(csv.DictReader(open(tmp_path / "results" / "table1.csv")))
    ours = ["FastText", "MiniLM-L6 (fine-tuned)", "READ-8", "MINION-64"]
    assert [r["model"] for r in table1 if r["source"] == "this package"] == ours
    paper = {r["model"]: r for r in table1[len(ours):]}  # the paper's Table I after ours, marked
    assert float(paper["MINION-64 (paper)"]["trainable %"]) == 0.2 and paper["READ-8 (paper)"]["lr"] == ""
    assert all(r["source"].startswith("ETH paper") for r in paper.values()) and len(paper) == 6
    assert table1[1]["training method"] == "full fine-tuning" and float(table1[1]["lr"]) == 2e-5
    assert float(table1[3]["trainable %"]) == pytest.approx(100 * 174_082 / 22_887_298)
    assert table1[3]["training method"].startswith("side-tuning, MINION")
    table2 = list(csv.DictReader(open(tmp_path / "results" / "table2.csv")))
    minion = table2[3]
    assert float(minion["accuracy %"]) == pytest.approx(80.0) and float(minion["ACE %"]) == pytest.approx(2.0)
    assert float(minion["MCE %"]) == pytest.approx(10.0) and float(minion["peak RSS GiB"]) == 2.5
    assert float(minion["wall s"]) == 300 and minion["GPU energy kWh"] == "" and minion["train n"] == "800"
    paper = {r["model"]: r for r in table2[len(ours):]}
    assert float(paper["MINION-64 (paper)"]["accuracy %"]) == 90.15 and paper["FastText (paper)"]["ACE %"] == ""
    md = (tmp_path / "results" / "table2.md").read_text()
    assert "| MINION-64 | 800 | 100 | 80 | — | 2 | — | 10 | — | — | — |" in md  # no saved outputs, no intervals
    assert "| MINION-64 (paper) | — | — | 90.15 | — | 0.48 |" in md and "Rows marked (paper) are the ETH paper" in md
    assert "a larger encoder and about 2838 times the training data" in md  # 2.27M / the 800 train tweets here
    assert "Not measurable on this machine (shown as —): GPU energy kWh, CPU energy kWh, power kW, GPU peak GiB" in md
    assert (tmp_path / "results" / "calibration.png").stat().st_size > 1000
    claims = (tmp_path / "results" / "claims.md").read_text()
    assert ("| (a) MINION-64 accuracy within 1 point of full fine-tuning | cannot tell at this scale | "
            "no paired test outputs") in claims


def test_a_measured_energy_is_shown_and_not_called_unmeasurable(runs, tmp_path):
    from minion_tf.reports.tables import build_tables

    path = runs / "read-h8-lr0.001-s0-cc" / "run.json"
    rec = json.loads(path.read_text())
    rec["energy"]["energy_kwh"] = 0.85
    path.write_text(json.dumps(rec))
    build_tables(runs, tmp_path / "out")
    md = (tmp_path / "out" / "table2.md").read_text()
    assert "| READ-8 | 800 | 100 | 78 | — | 3 | — | 15 | — | — | 0.85 |" in md
    assert "measurable on this machine (shown as —): CPU energy kWh, power kW, GPU peak GiB" in md


def test_no_runs_or_a_broken_record_give_one_line(tmp_path):
    from minion_tf.errors import MinionError
    from minion_tf.reports.tables import build_tables

    with pytest.raises(MinionError, match="no run.json found"):
        build_tables(tmp_path, tmp_path / "out")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "run.json").write_text("{}")
    with pytest.raises(MinionError, match=r"x/run.json: not a run record \(KeyError"):
        build_tables(tmp_path, tmp_path / "out")


def test_old_and_new_style_records_get_registry_names_and_an_unregistered_model_comes_last(runs, tmp_path):
    from minion_tf.reports.tables import build_tables

    def add(name, config):
        rec = record("minion", 64, 1e-3, 100, 1000, 0.7, 0.05, 0.2, 1.0, 50)
        rec["config"] = {"lr": 1e-3, "encoder": "minilm", **config}
        (runs / name).mkdir()
        (runs / name / "run.json").write_text(json.dumps(rec))

    add("prompt-old", {"model": "prompt", "hidden": 64, "last_k": None, "prompt_length": 20})
    add("freeze-new", {"model": "freeze", "last_k": 2})  # new style: no "hidden"
    add("adapter", {"model": "adapter", "hidden": 64})  # a plugin no longer installed
    build_tables(runs, tmp_path / "out")
    table1 = _ours(tmp_path / "out" / "table1.csv")
    assert [r["model"] for r in table1] == ["FastText", "MiniLM-L6 (fine-tuned)", "FREEZE-2", "PROMPT-20", "READ-8",
                                            "MINION-64", "adapter"]
    assert (table1[2]["type"], table1[2]["training method"]) == ("transformer", "last-k fine-tuning")
    assert (table1[-1]["type"], table1[-1]["training method"]) == ("?", "adapter")
    assert [r["model"] for r in _ours(tmp_path / "out" / "table2.csv")][-1] == "adapter"


def _ours(path):
    """The rows of our runs in a table's CSV (the paper's follow them)."""
    return [r for r in csv.DictReader(open(path)) if r["source"] == "this package"]


def _read_table2(folder):
    return {r["model"]: r for r in csv.DictReader(open(folder / "table2.csv"))}


def test_table2_intervals_and_paired_differences_come_from_the_saved_test_outputs(runs, tmp_path):
    from minion_tf.reports.tables import build_tables

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 100)
    finetune = rng.random(100) < 0.7
    better = finetune.copy()
    better[np.flatnonzero(~finetune)[:10]] = True  # right on 10 more of the 100
    save_outputs(runs / "finetune-h64-lr2e-05-s0-dd", outputs(labels, finetune, 0.9), labels)
    save_outputs(runs / "minion-h64-lr0.0003-s0-aa", outputs(labels, better), labels)
    save_outputs(runs / "read-h8-lr0.001-s0-cc", outputs(labels, finetune, 0.9), labels)  # fine-tuning's own
    build_tables(runs, tmp_path / "out")
    rows = _read_table2(tmp_path / "out")
    ft, minion, read = rows["MiniLM-L6 (fine-tuned)"], rows["MINION-64"], rows["READ-8"]

    draws = finetune[np.random.default_rng(0).integers(0, 100, (2000, 100))].mean(axis=1)  # the same resamples
    assert float(ft["accuracy % low"]) == pytest.approx(100 * np.percentile(draws, 2.5))
    assert float(ft["accuracy % high"]) == pytest.approx(100 * np.percentile(draws, 97.5))
    assert float(ft["ACE % low"]) <= float(ft["ACE % high"])
    assert ft["accuracy vs FT pts"] == ft["ACE vs FT pts low"] == ""  # the baseline has no difference
    assert float(minion["accuracy vs FT pts"]) == pytest.approx(10.0)
    assert 0 < float(minion["accuracy vs FT pts low"]) < 10 < float(minion["accuracy vs FT pts high"])
    for column in ("accuracy vs FT pts", "ACE vs FT pts"):
        assert [float(read[c]) for c in (column, f"{column} low", f"{column} high")] == [0.0, 0.0, 0.0]
    assert rows["FastText"]["accuracy % low"] == rows["FastText"]["accuracy vs FT pts"] == ""  # no saved outputs
    md = (tmp_path / "out" / "table2.md").read_text()
    assert "| READ-8 | 800 | 100 | 78 | [" in md and "| +0.0 [+0.0, +0.0] | +0.0 [+0.0, +0.0] |" in md
    assert f"| +10.0 [+{float(minion['accuracy vs FT pts low']):.1f}, " in md
    assert "95 % CI: percentile bootstrap over the test examples (2,000 resamples, seed 0)" in md


def test_no_difference_against_other_test_examples_or_a_baseline_without_outputs(tmp_path):
    from minion_tf.reports.compare import score_difference
    from minion_tf.reports.tables import load_records, table2_rows

    labels = np.arange(40) % 2
    for name, model in (("a", "finetune"), ("b", "minion"), ("c", "read")):
        folder = write_run(tmp_path, name, record(model, 64, 1e-3, 1, 2, 0.5, 0.1, 0.1, 1.0, 20, test=40))
        if name != "c":
            save_outputs(folder, outputs(labels, labels == 0), labels[::-1] if name == "b" else labels)
    assert score_difference(tmp_path / "a", tmp_path / "b", "accuracy") is None  # labels differ
    assert score_difference(tmp_path / "a", tmp_path / "c", "accuracy") is None  # no outputs
    records = {r["config"]["model"]: r for r in load_records(tmp_path)}
    rows = {r["model"]: r for r in table2_rows(list(records.values()))}
    assert rows["MINION-64"]["accuracy vs FT pts"] is None and rows["MINION-64"]["accuracy % low"] is not None
    assert rows["READ-64"]["ACE vs FT pts high"] is None and rows["READ-64"]["ACE % low"] is None


def test_the_baseline_is_the_fine_tuning_run_with_the_best_validation_accuracy_at_the_same_scale(tmp_path):
    from minion_tf.reports.tables import best_runs, load_records

    write_run(tmp_path, "ft-a", record("finetune", 64, 2e-5, 1, 2, 0.80, 0.1, 0.1, 1.0, 20))
    write_run(tmp_path, "ft-b", record("finetune", 64, 1e-4, 1, 2, 0.85, 0.1, 0.1, 1.0, 20))
    write_run(tmp_path, "ft-small", record("finetune", 64, 2e-5, 1, 2, 0.90, 0.1, 0.1, 1.0, 20, train=80))
    best = best_runs(load_records(tmp_path), "finetune")
    assert {k: v["config"]["lr"] for k, v in best.items()} == {("minilm", 800): 1e-4, ("minilm", 80): 2e-5}


def test_notes_name_the_machines_the_records_give():
    from minion_tf.reports.records import machine_text

    two, eight = {"machine": {"cpu_cores": 2}}, {"machine": {"cpu_cores": 8}}
    assert machine_text([two, two]) == "a machine with 2 CPU cores"
    assert machine_text([eight, two, {}]) == "machines with 2 and 8 CPU cores (and machines not recorded)"
    assert machine_text([{}]) == "the runs' machine (not recorded)"

"""GLUE / IMDb tables and score-vs-time figures, from fabricated but valid run JSONs only."""
import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from minion_tf.errors import MinionError
from minion_tf.reports.records import method_label, method_rank
from minion_tf.reports.task_report import best_epoch, build_task_report, glue_rows, imdb_rows, load_task_records

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def record(task, model, lr, seed, score, train_s, val_scores, metrics=None, best=None, trainable=1000,
           fraction=0.9, **config):
    n = max(len(val_scores), 1)
    epochs = [{"epoch": i, "loss": 0.7 - 0.1 * i, "val_score": v, "val_accuracy": v, "epoch_s": train_s / n,
               "elapsed_s": train_s * (i + 1) / n} for i, v in enumerate(val_scores)]
    rec = {"config": {"task": task, "model": model, "lr": lr, "seed": seed, "encoder": "minilm", "last_k": 2,
                      "prompt_length": 20, "hidden": 64, "train_fraction": fraction, **config},
           "epochs": epochs,
           "test": {"score": score, "metrics": metrics or {"accuracy": score}, "examples": 277, "ace": 0.1},
           "params": {"trainable": trainable, "total": 100_000},
           "timings": {"train_s": train_s, "total_s": train_s + 10},
           "data": {"train": round(1000 * fraction), "val": round(1000 * (1 - fraction)), "test": 277}}
    if best is not None:
        rec["best_epoch"] = best
    return rec


def write(folder: Path, name: str, rec) -> Path:
    (folder / name).mkdir(parents=True)
    path = folder / name / "run.json"
    path.write_text(rec if isinstance(rec, str) else json.dumps(rec))
    return path


@pytest.fixture()
def runs(tmp_path):
    glue, imdb = tmp_path / "runs" / "glue", tmp_path / "runs" / "imdb"
    fabricated = {
        glue: {
            "rte-ft-s0": record("rte", "finetune", 2e-5, 0, 0.60, 100.0, [0.55, 0.62, 0.61], best=1, trainable=90_000),
            "rte-ft-s1": record("rte", "finetune", 2e-5, 1, 0.64, 120.0, [0.56, 0.60], best=1, trainable=90_000),
            "rte-minion": record("rte", "minion", 3e-4, 0, 0.57, 40.0, [0.50, 0.58]),
            "rte-freeze2": record("rte", "freeze", 2e-5, 0, 0.58, 55.0, [0.52, 0.59, 0.57]),  # no best_epoch
            "rte-bitfit": record("rte", "bitfit", 1e-3, 0, 0.55, 60.0, [0.53]),
            "rte-freeze4": record("rte", "freeze", 1e-3, 0, 0.59, 70.0, [0.54, 0.58], last_k=4),
            "cola-ft": record("cola", "finetune", 2e-5, 0, 0.30, 80.0, [0.2, 0.3],
                              metrics={"matthews_corrcoef": 0.30, "accuracy": 0.70}),
            "mnli-ft": record("mnli", "finetune", 2e-5, 0, 0.75, 500.0, [0.7, 0.74],
                              metrics={"accuracy_matched": 0.76, "accuracy_mismatched": 0.74}),
            "tweets-minion": {"config": {"model": "minion", "hidden": 64}, "epochs": [], "test": {}},  # skipped
            "multitask": {"config": {"name": "topk"}, "epochs": []},  # earlier multi-task runner: skipped too
            "minbert-multitask": {"config": {"task": "minbert", "model": "multitask", "lr": 5e-5}, "epochs": [],
                                  "test": {"score": 0.5, "metrics": {"score": 0.5}}},  # minBERT: its own table
        },
        imdb: {
            "ft-90": record("imdb", "finetune", 2e-5, 0, 0.85, 90.0, [0.80, 0.84, 0.83], trainable=4_000),
            "ft-30": record("imdb", "finetune", 2e-5, 0, 0.80, 30.0, [0.78, 0.79], fraction=0.3, trainable=4_000),
            "bitfit-90": record("imdb", "bitfit", 1e-3, 0, 0.70, 60.0, [0.65], trainable=40),
        },
    }
    for folder, recs in fabricated.items():
        for name, rec in recs.items():
            write(folder, name, rec)
    (glue / "unfinished" / "progress").mkdir(parents=True)  # no run.json: left out
    return glue, imdb


def read_csv(path):
    return list(csv.DictReader(open(path)))


def test_cli_writes_seed_averaged_scores_in_method_order_and_png_figures(runs, tmp_path):
    out = tmp_path / "results" / "glue"
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / "task_tables.py"), "--runs", *map(str, runs),
                             "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-1500:]
    assert str(out / "task_scores.csv") in result.stdout and "score_vs_time_rte.png" in result.stdout

    rows = read_csv(out / "task_scores.csv")
    assert [(r["task"], r["method"], float(r["lr"])) for r in rows] == [
        ("cola", "finetune", 2e-5), ("imdb", "finetune", 2e-5), ("imdb", "finetune", 2e-5), ("imdb", "bitfit", 1e-3),
        ("mnli", "finetune", 2e-5),
        ("rte", "finetune", 2e-5), ("rte", "freeze-2", 2e-5), ("rte", "freeze-4", 1e-3), ("rte", "bitfit", 1e-3),
        ("rte", "minion-64", 3e-4)]
    by = {(r["task"], r["method"]): r for r in rows}
    ft = by["rte", "finetune"]
    assert ft["seeds"] == "2" and float(ft["score %"]) == pytest.approx(62.0)
    assert float(ft["score std"]) == pytest.approx(math.sqrt(8))
    assert float(ft["train s"]) == pytest.approx(110.0) and float(ft["time vs finetune 2e-5"]) == pytest.approx(1.0)
    assert float(ft["trainable %"]) == pytest.approx(90.0) and ft["trainable params"] == "90000"
    assert float(ft["best epoch"]) == 2 and float(ft["epochs run"]) == 2.5
    freeze = by["rte", "freeze-2"]
    assert freeze["seeds"] == "1" and freeze["score std"] == "" and float(freeze["score %"]) == pytest.approx(58.0)
    assert float(freeze["time vs finetune 2e-5"]) == pytest.approx(55 / 110)
    assert float(freeze["best epoch"]) == 2 and float(freeze["epochs run"]) == 3  # arg-max of val_score
    cola = by["cola", "finetune"]
    assert cola["metric"] == "matthews_corrcoef" and float(cola["accuracy %"]) == pytest.approx(70.0)
    mnli = by["mnli", "finetune"]
    assert float(mnli["accuracy_matched %"]) == pytest.approx(76.0) and mnli["accuracy %"] == ""
    assert [r["train n"] for r in rows if r["task"] == "imdb"] == ["300", "900", "900"]  # scales kept apart
    assert float(by["imdb", "bitfit"]["time vs finetune 2e-5"]) == pytest.approx(60 / 90)  # same train n only
    md = (out / "task_scores.md").read_text()
    assert "| rte | minilm | 900 | finetune | 2e-05 | 2 | accuracy | 62 | 2.828 |" in md and "Built from run.json" in md

    for task in ("cola", "imdb", "mnli", "rte"):
        png = out / f"score_vs_time_{task}.png"
        assert png.read_bytes()[:8] == PNG_SIGNATURE and png.stat().st_size > 5000
    assert not list(out.glob(".tmp-*"))


def test_imdb_table_lists_every_epoch_per_method_and_split(runs, tmp_path):
    rows = imdb_rows(load_task_records(runs))
    assert [(r["method"], r["train/val"], r["epoch"]) for r in rows] == [
        ("finetune", "90/10", 1), ("finetune", "90/10", 2), ("finetune", "90/10", 3),
        ("finetune", "30/70", 1), ("finetune", "30/70", 2), ("bitfit", "90/10", 1)]
    assert rows[1]["train loss"] == pytest.approx(0.6) and rows[1]["val accuracy %"] == pytest.approx(84.0)
    assert rows[1]["epoch s"] == pytest.approx(30.0) and rows[-1]["trainable params"] == 40
    paths = build_task_report(runs, tmp_path / "out")
    assert tmp_path / "out" / "imdb_epochs.csv" in paths
    assert len(read_csv(tmp_path / "out" / "imdb_epochs.csv")) == 6


OLD_STYLE = {"hidden": 64, "last_k": None, "prompt_length": 20}  # old records carry these on every method


def test_labels_come_from_the_registry_for_old_and_new_style_records():
    old = [{"model": "finetune", **OLD_STYLE}, {"model": "prompt", **OLD_STYLE},
           {"model": "freeze", **OLD_STYLE, "last_k": 2}, {"model": "minion", **OLD_STYLE}]
    new = [{"model": "finetune"}, {"model": "prompt", "prompt_length": 20}, {"model": "freeze", "last_k": 2},
           {"model": "minion", "hidden": 64}]
    for configs in (old, new):
        assert [method_label(c) for c in configs] == ["finetune", "prompt-20", "freeze-2", "minion-64"]
    assert method_label({"model": "read", "hidden": 8}) == "read-8"
    assert method_label({"model": "embeddings-only", "hidden": 8}) == "embeddings-only"
    assert method_label({"model": "minion"}) == "minion-64"  # the option's default
    assert method_label({"model": "adapter", "hidden": 8}) == "adapter"  # not registered: its model name


def test_rows_are_ordered_by_method_order_name_and_size_unregistered_last():
    configs = [{"model": "fasttext", **OLD_STYLE}, {"model": "finetune"}, {"model": "freeze", "last_k": 1},
               {"model": "freeze", "last_k": 3}, {"model": "bitfit", **OLD_STYLE},
               {"model": "prompt", "prompt_length": 20}, {"model": "embeddings-only"}, {"model": "encoder-only"},
               {"model": "read", "hidden": 8}, {"model": "minion", "hidden": 8}, {"model": "minion", "hidden": 64},
               {"model": "adapter"}]
    assert sorted(configs[::-1], key=method_rank) == configs


def test_an_unregistered_model_still_gets_a_row_ordered_last(tmp_path):
    for name, model, own in (("adapter", "adapter", {}), ("minion", "minion", {"hidden": 8}), ("ft", "finetune", {}),
                             ("freeze", "freeze", {"last_k": 2})):
        rec = record("rte", model, 1e-3, 0, 0.6, 10.0, [0.6])
        for key in OLD_STYLE:  # new-style records: the shared run fields and the method's own options only
            del rec["config"][key]
        rec["config"].update(own)
        write(tmp_path, name, rec)
    rows = glue_rows(load_task_records([tmp_path]))
    assert [r["method"] for r in rows] == ["finetune", "freeze-2", "minion-8", "adapter"]
    assert rows[-1]["score %"] == pytest.approx(60.0)


def test_best_epoch_fallback():
    assert best_epoch({"epochs": [{"val_score": 0.5}, {"val_score": None}, {"val_score": 0.7}]}) == 2
    assert best_epoch({"epochs": [{"val_score": 0.5}, {"val_score": 0.7}], "best_epoch": 0}) == 0
    assert best_epoch({"epochs": []}) is None
    rows = glue_rows([record("rte", "fasttext", 0.1, 0, 0.5, 2.0, [])])
    assert rows[0]["time vs finetune 2e-5"] is None and math.isnan(rows[0]["best epoch"])


def test_a_broken_run_folder_gives_one_clear_error(runs, tmp_path):
    glue, _ = runs
    bad = write(glue, "broken", '{"config": {"task": "rte"')
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / "task_tables.py"), "--runs", str(glue),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {bad}: not a run record (JSONDecodeError")
    assert len(result.stderr.strip().splitlines()) == 1
    bad.write_text(json.dumps({"config": {"task": "rte", "model": "bitfit"}, "epochs": []}))
    with pytest.raises(MinionError, match=f"{bad}: not a run record \\(no test, config.lr\\)"):
        load_task_records([glue])
    bad.write_text(json.dumps(record("rte", "freeze", 1e-3, 0, 0.5, 1.0, [0.5], last_k=None)))
    with pytest.raises(MinionError, match=f"{bad}: not a run record \\(--model freeze needs --last-k"):
        load_task_records([glue])
    with pytest.raises(MinionError, match="no such folder"):
        load_task_records([tmp_path / "nowhere"])
    (tmp_path / "tweets-only" / "r").mkdir(parents=True)
    (tmp_path / "tweets-only" / "r" / "run.json").write_text(json.dumps({"config": {"model": "minion"}}))
    with pytest.raises(MinionError, match="no GLUE or IMDb run.json under"):
        load_task_records([tmp_path / "tweets-only"])


def test_a_single_seed_run_with_saved_predictions_gets_bootstrap_intervals(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 500)
    predicted = np.where(rng.random(500) < 0.7, labels, (labels + 1) % 3)
    probs = np.eye(3)[predicted] * 0.8 + 0.2 / 3
    accuracy = float((predicted == labels).mean())
    rec = record("text", "minion", 3e-4, 0, accuracy, 10.0, [0.6], metrics={"accuracy": accuracy, "macro_recall": 0.7})
    rec["task"] = {"name": "text", "labels": ["a", "b", "c"], "metric": "accuracy"}
    path = write(tmp_path, "text-minion", rec)
    np.save(path.parent / "test_probs.npy", probs)
    np.save(path.parent / "test_labels.npy", labels)
    row = glue_rows(load_task_records([tmp_path]))[0]
    assert row["metric"] == "accuracy"
    low, high = (float(v) for v in row["score 95% CI"].strip("[]").split(","))
    half = 196 * math.sqrt(accuracy * (1 - accuracy) / 500)  # the binomial interval, in %
    assert low < 100 * accuracy < high and abs((high - low) / 2 - half) < 0.25 * half
    assert row["macro_recall 95% CI"].startswith("[")


def test_compare_runs_gives_paired_differences_and_refuses_other_test_sets(tmp_path):
    import numpy as np

    from minion_tf.reports.compare import compare_runs

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    for name, correct in (("a", 0.8), ("b", 0.7)):
        predicted = np.where(rng.random(400) < correct, labels, 1 - labels)
        path = write(tmp_path, name, record("sst2", "minion", 1e-3, 0, 0.0, 1.0, [0.5]))
        np.save(path.parent / "test_probs.npy", np.eye(2)[predicted])
        np.save(path.parent / "test_labels.npy", labels)
    got = compare_runs(tmp_path / "a", tmp_path / "b", draws=500)
    a, b = (np.load(tmp_path / n / "test_probs.npy").argmax(1) for n in "ab")
    diff, low, high = got["accuracy"]
    assert diff == pytest.approx((a == labels).mean() - (b == labels).mean()) and low < diff < high
    np.save(tmp_path / "b" / "test_labels.npy", labels[::-1])
    with pytest.raises(MinionError, match="tested on different examples"):
        compare_runs(tmp_path / "a", tmp_path / "b")

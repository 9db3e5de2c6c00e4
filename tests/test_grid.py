"""The grid: every cell once, one shared cache, resumes after an interruption, writes its table."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from minion_tf.runs.grid import GridConfig, run_grid

ROOT = Path(__file__).resolve().parents[1]


def tiny_grid(tiny_encoder_dir, tweet_dir, out):
    base = dict(epochs=2, batch_size=32, encoder=str(tiny_encoder_dir), data=str(tweet_dir), max_examples=300,
                max_length=16, out=str(out))
    # MINION first: the cell cut (and so trained twice) is a READ one, the cheaper model to trace
    return GridConfig(models=("minion", "read"), hiddens=(4,), lrs=(3e-4, 1e-3), base=base)


def test_interrupted_grid_resumes_without_redoing_finished_runs(tiny_encoder_dir, tweet_dir, tmp_path, monkeypatch):
    from minion_tf.runs import resume
    from minion_tf.runs import fitting

    grid = tiny_grid(tiny_encoder_dir, tweet_dir, tmp_path / "runs")
    cells = grid.configs()
    assert len(cells) == 4 and len({c.run_dir() for c in cells}) == 4
    trainings = []
    real_train, real_end = fitting.fit_keras, resume.EpochCheckpoint.on_epoch_end

    def counted_train(method, config, *args):
        trainings.append(config.run_dir().name)
        return real_train(method, config, *args)

    def cut_third_cell(self, epoch, logs=None):
        real_end(self, epoch, logs)
        if self.directory.parent == cells[2].run_dir() and epoch == 0:
            raise KeyboardInterrupt

    monkeypatch.setattr(fitting, "fit_keras", counted_train)
    monkeypatch.setattr(resume.EpochCheckpoint, "on_epoch_end", cut_third_cell)
    with pytest.raises(KeyboardInterrupt):
        run_grid(grid, tmp_path / "results")
    assert trainings == [c.run_dir().name for c in cells[:3]]
    assert not (cells[2].run_dir() / "run.json").exists()  # the cut run is not taken as done
    rows = list(csv.DictReader(open(tmp_path / "results" / "grid.csv")))
    assert [r["status"] for r in rows] == ["done", "done", "interrupted", "not run"]

    monkeypatch.setattr(resume.EpochCheckpoint, "on_epoch_end", real_end)
    records = run_grid(grid, tmp_path / "results")
    assert trainings[3:] == [cells[2].run_dir().name, cells[3].run_dir().name]  # finished cells not redone
    assert len(records) == 4 and all(len(r["epochs"]) == 2 for r in records)
    rows = list(csv.DictReader(open(tmp_path / "results" / "grid.csv")))
    assert [r["status"] for r in rows] == ["done"] * 4
    assert [(r["model"], r["size"], float(r["lr"])) for r in rows] == [
        ("MINION", "4", 3e-4), ("MINION", "4", 1e-3), ("READ", "4", 3e-4), ("READ", "4", 1e-3)]
    assert float(rows[0]["test acc %"]) == pytest.approx(100 * records[0]["test"]["accuracy"])
    assert all(float(r["test acc % low"]) <= float(r["test acc %"]) <= float(r["test acc % high"]) for r in rows)
    md = (tmp_path / "results" / "grid.md").read_text()
    assert "| model | size | lr |" in md and "| test acc 95% CI |" in md
    data = records[0]["data"]
    assert f"{data['train']} train / {data['val']} val / {data['test']} test examples" in md
    # One hidden-state cache for every cell: one encoder folder holding one train, val and test split.
    (encoder_cache,) = (tmp_path / "runs" / "cache").iterdir()
    assert sorted(p.name.split("-")[0] for p in encoder_cache.iterdir()) == ["test", "train", "val"]
    assert all(json.loads((c.run_dir() / "run.json").read_text())["streaming"] is False for c in cells)


def test_grid_cli_refuses_bad_cells_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / "grid.py"), "--models", "bert",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: unknown model 'bert'; known: ")
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / "grid.py"), "--hiddens", "0",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.strip() == "error: --hidden must be at least 1, got 0"

"""results/cache_options: each storage option against float16 with every state, paired on the same test tweets."""
import csv

import numpy as np
import pytest

from fake_runs import outputs, record, save_outputs, write_run
from minion_tf.errors import MinionError
from minion_tf.metrics.intervals import paired_interval
from minion_tf.reports.cache_options import build_cache_options
from minion_tf.reports.compare import probs_accuracy

LABELS = np.arange(200) % 2


def _option(runs, name, right, per_token, **config):
    rec = record("minion", 64, 3e-4, 1000, 10**6, right.mean(), 0.03, 0.1, 2.0, 300.0, test=200)
    rec["config"].update(epochs=5, batch_size=256, seed=0, **config)
    rec.update(cache_estimate_bytes=per_token * 5000, num_tokens=5000,
               machine={"cpu_cores": 2, "arch": "x86_64", "system": "Linux"})
    folder = write_run(runs, name, rec)
    save_outputs(folder, outputs(LABELS, right), LABELS)
    return folder


def test_each_option_is_paired_with_float16_every_state_and_int8_meets_the_bar_or_not(tmp_path):
    rng = np.random.default_rng(0)
    right = rng.random(200) < 0.8
    worse = right.copy()
    worse[np.flatnonzero(right)[:6]] = False  # 6 of 200 more wrong: -3 points
    folders = [_option(tmp_path, "f16", right, 5376),
               _option(tmp_path, "i8", right, 2702, cache_dtype="int8"),
               _option(tmp_path, "last", worse, 768, cache_layers="6")]
    build_cache_options(folders[::-1], tmp_path / "out")  # float16 of every state first, the others as given
    rows = list(csv.DictReader(open(tmp_path / "out" / "cache_options.csv")))
    assert [r["cache"] for r in rows] == ["float16, every state", "float16, states 6", "int8, every state"]
    rows = [rows[0], rows[2], rows[1]]
    assert [int(r["bytes a token"]) for r in rows] == [5376, 2702, 768]
    assert float(rows[1]["÷ float16"]) == pytest.approx(2702 / 5376) and rows[0]["accuracy vs float16 pts"] == ""
    assert float(rows[1]["accuracy vs float16 pts"]) == 0.0
    want = paired_interval(probs_accuracy, outputs(LABELS, worse), outputs(LABELS, right), LABELS)
    got = [float(rows[2][f"accuracy vs float16 pts{s}"]) for s in ("", " low", " high")]
    assert got == pytest.approx([100 * v for v in want]) and got[0] == pytest.approx(-3.0)
    md = (tmp_path / "out" / "cache_options.md").read_text()
    assert "- int8, every state: 0.503 of the bytes, accuracy +0.00 points [+0.00, +0.00]; the bar (at most 0.2 " \
           "points lost at about half the bytes) is met by the estimate." in md
    assert "- float16, states 6: 0.143 of the bytes, accuracy -3.00 points [" in md
    assert "MINION-64 over MiniLM-L6, 800 train / 100 val / 200 test examples, 5 epochs" in md
    assert "single measurements on a machine with 2 CPU cores" in md


def test_the_table_needs_exactly_one_float16_run_of_every_state(tmp_path):
    right = np.ones(200, bool)
    folders = [_option(tmp_path, "i8", right, 2702, cache_dtype="int8")]
    with pytest.raises(MinionError, match="0 runs with a float16 cache of every state among 1"):
        build_cache_options(folders, tmp_path / "out")

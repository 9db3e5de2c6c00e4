"""The Pittsburgh and UCSD claims as verdicts, on fabricated GLUE and IMDb runs with saved test outputs."""
import numpy as np
import pytest

from minion_tf.reports.claims import FAILS, HOLDS, UNSURE
from minion_tf.reports.task_claims import pittsburgh_claims, task_claim_rows, ucsd_claims, within
from minion_tf.reports.task_report import build_task_report, load_task_records
from test_task_report import record, write

N = 400
LABELS = np.random.default_rng(0).integers(0, 2, N)


def _run(runs, name, task, model, lr, wrong, train_s=100.0, seed=0, **config):
    """A run whose test predictions are right on all but the first `wrong` examples."""
    predicted = LABELS.copy()
    predicted[:wrong] = 1 - predicted[:wrong]
    accuracy = float((predicted == LABELS).mean())
    rec = record(task, model, lr, seed, accuracy, train_s, [accuracy], **config)
    rec["task"] = {"metric": "accuracy"}
    path = write(runs, name, rec)
    np.save(path.parent / "test_probs.npy", np.eye(2)[predicted])
    np.save(path.parent / "test_labels.npy", LABELS)


def by_claim(rows):
    return {r["claim"]: r for r in rows}


def test_within_is_an_equivalence_test():
    assert within(-0.5, 0.8, 1.0) == HOLDS and within(1.2, 3.0, 1.0) == within(-3.0, -1.1, 1.0) == FAILS
    assert within(-2.0, 0.5, 1.0) == UNSURE and within(float("nan"), 0.0, 1.0) == UNSURE


def test_pittsburgh_last_k_score_time_and_learning_rate(tmp_path):
    _run(tmp_path, "ft", "rte", "finetune", 2e-5, wrong=40, train_s=100.0)
    _run(tmp_path, "ft-s1", "rte", "finetune", 2e-5, wrong=40, train_s=120.0, seed=1)
    _run(tmp_path, "ft-hi", "rte", "finetune", 1e-3, wrong=200)  # at chance: 2e-5 is far better
    _run(tmp_path, "f4", "rte", "freeze", 2e-5, wrong=44, train_s=60.0, last_k=4)  # 1 point worse, 0.55 the time
    _run(tmp_path, "f3", "rte", "freeze", 2e-5, wrong=100, train_s=80.0, last_k=3)  # 15 points worse
    rows = by_claim(pittsburgh_claims(load_task_records([tmp_path])))
    last4 = rows["rte: last-4 within 2.4 points of full fine-tuning"]
    assert last4["verdict"] == HOLDS and last4["numbers"].startswith("last-4 - full FT: -1.0 [")
    assert "seed means 89.0 vs 90.0" in last4["numbers"] and "n = 900 train" in last4["numbers"]
    time4 = rows["rte: last-4 trains in at least 33 % less time than full fine-tuning"]
    assert time4["verdict"] == HOLDS and "= 0.55 (60 / 110 s, seed means)" in time4["numbers"]
    assert rows["rte: last-3 within 2.4 points of full fine-tuning"]["verdict"] == FAILS
    assert rows["rte: last-3 trains in at least 33 % less time than full fine-tuning"]["verdict"] == FAILS  # 0.73
    assert rows["rte: full FT at lr 2e-5 better than at 1e-3"]["verdict"] == HOLDS
    assert rows["rte: last-4 at lr 2e-5 better than at 1e-3"]["numbers"] == "no run of last-4 1e-3 at rte, n = 900 train"


def test_large_sets_get_no_last_k_claim_and_missing_outputs_cannot_tell(tmp_path):
    _run(tmp_path, "ft", "sst2", "finetune", 2e-5, wrong=40)
    _run(tmp_path, "f4", "sst2", "freeze", 2e-5, wrong=40, last_k=4)
    _run(tmp_path, "ft-hi", "sst2", "finetune", 1e-3, wrong=40)
    for name in ("ft", "f4", "ft-hi"):  # 20,000 train examples: no last-k claim
        path = tmp_path / name / "run.json"
        path.write_text(path.read_text().replace('"train": 900', '"train": 20000'))
    (tmp_path / "ft-hi" / "test_probs.npy").unlink()
    rows = pittsburgh_claims(load_task_records([tmp_path]))
    assert [r["claim"] for r in rows] == ["sst2: full FT at lr 2e-5 better than at 1e-3",
                                          "sst2: last-4 at lr 2e-5 better than at 1e-3"]
    assert rows[0]["verdict"] == UNSURE and rows[0]["numbers"].startswith("no paired test outputs; seed means")


def test_ucsd_claims_per_split(tmp_path):
    for fraction, tag in ((0.9, "a"), (0.3, "b")):
        _run(tmp_path, f"ft{tag}", "imdb", "finetune", 2e-5, wrong=40, fraction=fraction)
        _run(tmp_path, f"enc{tag}", "imdb", "encoder-only", 2e-5, wrong=41, fraction=fraction)
        _run(tmp_path, f"emb{tag}", "imdb", "embeddings-only", 1e-3, wrong=120, fraction=fraction)
        _run(tmp_path, f"bit{tag}", "imdb", "bitfit", 1e-3, wrong=40, fraction=fraction)
    rows = by_claim(ucsd_claims(load_task_records([tmp_path])))
    for split in ("imdb 90/10", "imdb 30/70"):
        assert rows[f"{split}: encoder-only within 1 point of full fine-tuning"]["verdict"] == HOLDS
        assert rows[f"{split}: embeddings-only more than 1 point behind full fine-tuning"]["verdict"] == HOLDS
        assert rows[f"{split}: bitfit (1 % trainable) within 1 point of full fine-tuning"]["verdict"] == HOLDS
        prompt = rows[f"{split}: prompt-20 within 1 point of full fine-tuning"]
        assert prompt["verdict"] == UNSURE and prompt["numbers"].startswith("no run of prompt-20 at imdb")


def test_the_task_report_writes_the_claims(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "ft", "rte", "finetune", 2e-5, wrong=40)
    _run(runs, "f4", "rte", "freeze", 2e-5, wrong=44, last_k=4)
    paths = build_task_report([runs], tmp_path / "out")
    assert tmp_path / "out" / "claims.md" in paths
    text = (tmp_path / "out" / "claims.md").read_text()
    assert "| rte: last-4 within 2.4 points of full fine-tuning | holds |" in text
    assert len(task_claim_rows(load_task_records([runs]))) == 6  # last-4, last-3 (no run): score, time; 2 lr rows

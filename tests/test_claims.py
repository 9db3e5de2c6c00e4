"""The papers' claims as verdicts, from fabricated run folders (run.json + saved test outputs)."""
import math

import numpy as np
import pytest
from fake_runs import outputs, record, save_outputs, write_run

from minion_tf.errors import MinionError
from minion_tf.reports.claims import (FAILS, HOLDS, UNSURE, accuracy_claim, build_claims, claim_rows, verdict)
from minion_tf.reports.tables import load_records

LABELS = np.random.default_rng(2).integers(0, 2, 400)
RIGHT = np.random.default_rng(3).random(400) < 0.8  # full fine-tuning is right on these


def _run(runs, name, model, hidden, correct, confidence=0.8, train_s=100.0, memory=None, train=800):
    rec = record(model, hidden, 1e-3, 1, 2, float(correct.mean()), 0.1, 0.1, 1.0, train_s + 10, train=train,
                 test=LABELS.size)
    rec["memory"] = memory or {"train": {"private_peak_gib": 1.0, "rss_peak_gib": 2.0}}
    folder = write_run(runs, name, rec)
    save_outputs(folder, outputs(LABELS, correct, confidence), LABELS)
    return folder


def _changed(correct, wrong=0, right=0):
    """`correct` wrong on `wrong` more of its right examples and right on `right` more of its wrong ones."""
    out = correct.copy()
    out[np.flatnonzero(correct)[:wrong]] = False
    out[np.flatnonzero(~correct)[:right]] = True
    return out


def _verdicts(rows):
    return {(r["claim"], r["numbers"].split("; ")[-1]): r["verdict"] for r in rows}


def test_verdict_gives_each_outcome_and_cannot_tell_on_the_threshold():
    assert verdict(-0.4, 0.9, threshold=-1.0) == HOLDS
    assert verdict(-2.5, -1.2, threshold=-1.0) == FAILS
    assert verdict(-1.5, 0.3, threshold=-1.0) == UNSURE
    assert verdict(-1.0, 0.3, threshold=-1.0) == verdict(-2.0, -1.0, threshold=-1.0) == UNSURE  # boundary
    assert verdict(-0.3, -0.1, better="lower") == HOLDS and verdict(0.1, 0.3, better="lower") == FAILS
    assert verdict(0.0, 0.0) == UNSURE and verdict(math.nan, math.nan) == UNSURE
    assert verdict(0.5, 0.5, 1.0, "lower") == HOLDS  # a single measurement: an interval of one point
    with pytest.raises(MinionError, match="better must be 'higher' or 'lower'"):
        verdict(0.0, 1.0, better="more")


def test_claims_on_synthetic_runs(tmp_path):
    _run(tmp_path, "ft", "finetune", 64, RIGHT, confidence=0.99, train_s=1000.0)  # overconfident
    _run(tmp_path, "minion", "minion", 64, RIGHT, train_s=90.0,  # same predictions, better calibrated
         memory={"cache": {"private_peak_gib": 3.0}, "train": {"private_peak_gib": 2.4}})
    _run(tmp_path, "read", "read", 64, _changed(RIGHT, wrong=20))
    _run(tmp_path, "read8", "read", 8, RIGHT)
    rows = claim_rows(load_records(tmp_path))
    by_claim = {r["claim"]: r for r in rows}
    assert [r["claim"][:3] for r in rows] == ["(a)", "(b)", "(c)", "(c)", "(d)", "(d)"]

    a = by_claim["(a) MINION-64 accuracy within 1 point of full fine-tuning"]
    assert a["verdict"] == HOLDS
    assert a["numbers"] == "MINION-64 - full FT: +0.0 [+0.0, +0.0] pts accuracy; MiniLM-L6, n = 800 train, 400 test"
    assert by_claim["(b) MINION-64 ACE below full fine-tuning's"]["verdict"] == HOLDS
    c64 = by_claim["(c) MINION-64 at least as accurate as READ-64"]
    assert c64["verdict"] == HOLDS and c64["numbers"].startswith("MINION-64 - READ-64: +5.0 [+")
    c8 = by_claim["(c) MINION-8 at least as accurate as READ-8"]
    assert (c8["verdict"], c8["numbers"]) == (UNSURE, "no run of MINION-8 at MiniLM-L6, n = 800 train")
    time = by_claim["(d) side-tuning (MINION-64) time below full fine-tuning's"]  # whole runs: train + 10 s
    assert time["verdict"] == HOLDS and time["numbers"].startswith("MINION-64 / full FT = 0.10 (100.0 / 1010.0 s, whole")
    assert "single measurements, no interval" in time["numbers"]
    memory = by_claim["(d) side-tuning (MINION-64) peak private memory below full fine-tuning's"]
    assert memory["verdict"] == FAILS and "= 3.00 (3.0 / 1.0 GiB, all phases" in memory["numbers"]  # cache peak


def test_accuracy_claim_per_scale_does_not_hold_or_cannot_tell(tmp_path):
    _run(tmp_path, "ft", "finetune", 64, RIGHT)
    _run(tmp_path, "minion", "minion", 64, _changed(RIGHT, wrong=20))  # 5 points worse
    _run(tmp_path, "ft-small", "finetune", 64, RIGHT, train=80)
    _run(tmp_path, "minion-small", "minion", 64, _changed(RIGHT, wrong=4, right=4), train=80)  # as good, noisily
    got = _verdicts(accuracy_claim(load_records(tmp_path)))
    claim = "(a) MINION-64 accuracy within 1 point of full fine-tuning"
    assert got == {(claim, "MiniLM-L6, n = 80 train, 400 test"): UNSURE,
                   (claim, "MiniLM-L6, n = 800 train, 400 test"): FAILS}


def test_missing_runs_or_outputs_give_cannot_tell_and_no_crash(tmp_path):
    write_run(tmp_path / "only", "fasttext", record("fasttext", 64, 0.1, 1, 1, 0.7, 0.1, 0.1, 1.0, 5))
    rows = claim_rows(load_records(tmp_path / "only"))
    assert {r["verdict"] for r in rows} == {UNSURE} and all("no run" in r["numbers"] for r in rows)
    assert len(rows) == 5  # (a), (b), (c) without any h, (d) time and memory

    write_run(tmp_path / "bare", "ft", record("finetune", 64, 2e-5, 1, 2, 0.8, 0.1, 0.1, 1.0, 50))  # no .npy
    _run(tmp_path / "bare", "minion", "minion", 64, RIGHT)
    (a,) = accuracy_claim(load_records(tmp_path / "bare"))
    assert a["verdict"] == UNSURE and a["numbers"].startswith("no paired test outputs")


def test_build_claims_writes_the_table(tmp_path):
    _run(tmp_path / "runs", "ft", "finetune", 64, RIGHT)
    paths = build_claims(tmp_path / "runs", tmp_path / "out")
    assert paths == [tmp_path / "out" / "claims.md", tmp_path / "out" / "claims.csv"]
    md = paths[0].read_text()
    assert md.startswith("| claim | verdict | numbers |\n")
    assert "| (a) MINION-64 accuracy within 1 point of full fine-tuning | cannot tell at this scale | no run of " in md
    assert "judged per scale on the run of each method with the best validation accuracy" in md


def test_a_minion_run_that_read_another_runs_cache_is_charged_with_its_build(tmp_path):
    import json

    _run(tmp_path, "ft", "finetune", 64, RIGHT, train_s=1000.0, memory={"train": {"private_peak_gib": 4.0}})
    built = _run(tmp_path, "read", "read", 64, RIGHT, train_s=40.0,
                 memory={"cache": {"private_peak_gib": 3.5}, "train": {"private_peak_gib": 1.0}})
    reused = _run(tmp_path, "minion", "minion", 64, RIGHT, train_s=90.0,
                  memory={"cache": {"private_peak_gib": 0.7}, "train": {"private_peak_gib": 1.2}})
    # a later run in the same process opened it too, holding what earlier runs left: not the build's peak
    later = _run(tmp_path, "read8", "read", 8, RIGHT, train_s=10.0, memory={"cache": {"private_peak_gib": 3.9}})
    for folder, cache_s in ((built, 300.0), (reused, 2.0), (later, 1.0)):  # READ-64 built the cache
        rec = json.loads((folder / "run.json").read_text())
        rec["timings"].update(cache_s=cache_s, total_s=rec["timings"]["total_s"] + cache_s)
        (folder / "run.json").write_text(json.dumps(rec))
    by_claim = {r["claim"]: r for r in claim_rows(load_records(tmp_path))}
    time = by_claim["(d) side-tuning (MINION-64) time below full fine-tuning's"]["numbers"]
    assert time.startswith("MINION-64 / full FT = 0.40 (400.0 / 1010.0 s")  # 100 + 2 - 2 + 300
    memory = by_claim["(d) side-tuning (MINION-64) peak private memory below full fine-tuning's"]["numbers"]
    assert memory.startswith("MINION-64 / full FT = 0.88 (3.5 / 4.0 GiB")  # the build's peak, not 1.2 or 3.9


def test_cost_table_charges_the_cache_build_and_divides_by_fine_tuning(tmp_path):
    import csv
    import json

    from minion_tf.reports.tweet_reports import build_tweet_reports

    ft = _run(tmp_path / "runs", "ft", "finetune", 64, RIGHT, train_s=1000.0,
              memory={"train": {"private_peak_gib": 4.0}})
    read = _run(tmp_path / "runs", "read", "read", 64, RIGHT, train_s=40.0,
                memory={"cache": {"private_peak_gib": 3.0}, "train": {"private_peak_gib": 1.0}})
    minion = _run(tmp_path / "runs", "minion", "minion", 64, RIGHT, train_s=90.0,
                  memory={"cache": {"private_peak_gib": 0.5}, "train": {"private_peak_gib": 1.2}})
    for folder, cache_s, epochs in ((ft, None, [300.0, 200.0, 200.0]), (read, 300.0, [20.0, 10.0]),
                                    (minion, 2.0, [40.0])):
        rec = json.loads((folder / "run.json").read_text())
        rec["machine"] = {"cpu_cores": 2, "arch": "x86_64", "system": "Linux"}
        rec["epochs"] = [{"val_accuracy": 0.8, "duration_s": s} for s in epochs]
        if cache_s is not None:
            rec["timings"].update(cache_s=cache_s, total_s=rec["timings"]["total_s"] + cache_s)
        (folder / "run.json").write_text(json.dumps(rec))
    paths = build_tweet_reports(tmp_path / "runs", tmp_path / "out")
    assert tmp_path / "out" / "cost_at_scale.md" in paths and tmp_path / "out" / "claims.md" in paths
    rows = {r["model"]: r for r in csv.DictReader(open(tmp_path / "out" / "cost_at_scale.csv"))}
    assert list(rows) == ["MiniLM-L6 (fine-tuned)", "READ-64", "MINION-64"]
    note = (tmp_path / "out" / "cost_at_scale.md").read_text()
    assert "single measurements on a machine with 2 CPU cores, no interval" in note
    ft_row, read_row, minion_row = rows.values()
    assert float(ft_row["whole run s"]) == 1010.0 and float(ft_row["whole run s ÷ FT"]) == 1.0
    assert float(read_row["whole run s"]) == 350.0 and float(read_row["epoch s ÷ FT"]) == 0.05
    assert float(minion_row["whole run s"]) == 400.0  # 100 + 2 - 2 + the 300 s READ spent building the cache
    assert float(minion_row["epoch s"]) == 40.0  # its only epoch
    assert float(minion_row["peak private GiB ÷ FT"]) == 0.75 and minion_row["epochs"] == "1"

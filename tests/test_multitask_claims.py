"""The multi-task minBERT intervals and CS224N claims (reports.multitask_claims), and the ablation tables
experiments/multitask_ablation.py writes from finished rows' records and dev outputs."""
import json
from pathlib import Path

import numpy as np
import pytest

from minion_tf.metrics.task_metrics import minbert_metrics
from minion_tf.reports.claims import FAILS, HOLDS, UNSURE
from minion_tf.reports.multitask_claims import (
    dev_interval, multitask_claim_rows, paired_dev_interval, saved_dev_outputs)
from scripts import load_script


def _outputs(rng, n=400, sst_right=0.5, para_right=0.7, sts_noise=1.0, labels=None):
    """Synthetic dev outputs: each prediction right with the given chance, STS labels plus noise."""
    labels = labels or {"sst": rng.integers(0, 5, n), "para": rng.integers(0, 2, n), "sts": rng.uniform(0, 5, n)}
    sst = np.where(rng.random(n) < sst_right, labels["sst"], (labels["sst"] + 1) % 5)
    para = np.where(rng.random(n) < para_right, labels["para"], 1 - labels["para"])
    sts = labels["sts"] + sts_noise * rng.normal(size=n)
    return {"sst": (sst.astype(np.float32), labels["sst"]), "para": (para.astype(np.float32), labels["para"]),
            "sts": (sts.astype(np.float32), labels["sts"])}


def _save(folder: Path, outputs: dict) -> Path:
    folder.mkdir(parents=True)
    for task, (predictions, labels) in outputs.items():
        np.save(folder / f"dev_{task}_predictions.npy", predictions)
        np.save(folder / f"dev_{task}_labels.npy", labels)
    return folder


def _metrics(outputs):
    return minbert_metrics({t: p for t, (p, _) in outputs.items()}, {t: y for t, (_, y) in outputs.items()})


def test_intervals_bracket_the_estimate_and_pairing_cancels_shared_noise():
    rng = np.random.default_rng(0)
    base = _outputs(rng)
    labels = {t: y for t, (_, y) in base.items()}
    better = _outputs(rng, sst_right=0.6, labels=labels)
    estimate = _metrics(base)
    for metric in ("score", "sst_accuracy", "para_accuracy", "sts_pearson"):
        low, high = dev_interval(base, metric, draws=400)
        assert low < estimate[metric] < high
    diff, low, high = paired_dev_interval(better, base, "sst_accuracy", draws=400)
    assert diff == pytest.approx(_metrics(better)["sst_accuracy"] - estimate["sst_accuracy"])
    assert 0 < low < diff < high
    assert paired_dev_interval(base, base, "score", draws=50) == (0.0, 0.0, 0.0)
    # the score's difference is the mean of the three tasks' differences (r enters as (r + 1) / 2)
    d = {m: paired_dev_interval(better, base, m, draws=10)[0] for m in ("sst_accuracy", "para_accuracy", "sts_pearson")}
    assert paired_dev_interval(better, base, "score", draws=10)[0] == pytest.approx(
        (d["sst_accuracy"] + d["para_accuracy"] + d["sts_pearson"] / 2) / 3)


def test_claim_verdicts_from_saved_outputs(tmp_path):
    rng = np.random.default_rng(1)
    base = _outputs(rng, n=1500)
    labels = {t: y for t, (_, y) in base.items()}
    rows = {"baseline": _save(tmp_path / "baseline", base),
            "pcgrad": _save(tmp_path / "pcgrad", _outputs(rng, n=1500, sst_right=0.7, para_right=0.9, labels=labels)),
            "gse": _save(tmp_path / "gse", _outputs(rng, n=1500, sst_right=0.3, para_right=0.5, labels=labels)),
            "sts-cosine": _save(tmp_path / "cos", _outputs(rng, n=1500, sts_noise=1.0, labels=labels)),
            "smart": _save(tmp_path / "smart", _outputs(rng, n=10))}  # other dev examples
    (tmp_path / "uvcos").mkdir()
    rows["sts-uvcos"] = tmp_path / "uvcos"  # no outputs saved
    verdicts = {r["claim"].split(" ")[1] if r["claim"].startswith("+") else r["claim"].split(" ")[0]: r
                for r in multitask_claim_rows(rows)}
    assert verdicts["PCGrad"]["verdict"] == HOLDS and "pcgrad - baseline: +" in verdicts["PCGrad"]["numbers"]
    assert verdicts["GSE"]["verdict"] == FAILS
    assert verdicts["cosine"]["verdict"] == UNSURE and "STS r" in verdicts["cosine"]["numbers"]
    assert verdicts["SMART"]["verdict"] == UNSURE and "no paired dev outputs" in verdicts["SMART"]["numbers"]
    assert verdicts["[u;"]["verdict"] == UNSURE
    assert saved_dev_outputs(tmp_path / "uvcos") is None
    assert all(r["verdict"] == UNSURE and "no run of the baseline" in r["numbers"]
               for r in multitask_claim_rows({"pcgrad": rows["pcgrad"]}))


def _ablation():
    return load_script("experiments/multitask_ablation.py", "ablation")


def test_ablation_tables_carry_intervals_and_claims(tmp_path):
    ablation = _ablation()
    args = ablation.parser().parse_args(["--out", str(tmp_path / "runs"), "--results", str(tmp_path / "results"),
                                         "--max-examples", "100"])
    rng = np.random.default_rng(2)
    labels, saved = None, {}
    for name, flags, right in (("baseline", [], 0.5), ("pcgrad", ["--pcgrad"], 0.8)):
        outputs = saved[name] = _outputs(rng, n=600, sst_right=right, labels=labels)
        labels = {t: y for t, (_, y) in outputs.items()}
        folder = _save(ablation.row_dir(args, flags), outputs)
        final = _metrics(outputs)
        (folder / "run.json").write_text(json.dumps({
            "final": final, "params": {"trainable": 10, "total": 10, "encoder": 8},
            "timings": {}, "data": {t: {"train": 100, "dev": 600} for t in labels},
            "epochs": [{"stage": "joint", "step_s": 0.5, "train_s": 30.0, "steps": 60}]}))
    ablation.write_tables(args, "python experiments/multitask_ablation.py --max-examples 100")
    results = tmp_path / "results"
    table = (results / "multitask_ablation.md").read_text()
    rows = {line.split(" | ")[0][2:]: line for line in table.splitlines() if line.startswith("| baseline")
            or line.startswith("| pcgrad")}
    low, high = dev_interval(saved["baseline"], "score")
    assert f"{_metrics(saved['baseline'])['score']:.4f} [{low:.3f}, {high:.3f}]" in rows["baseline"]
    csv_header = (results / "multitask_ablation.csv").read_text().splitlines()[0].split(",")
    assert csv_header[2:5] == ["sst_acc", "sst_acc_low", "sst_acc_high"]
    claims = (results / "multitask_claims.md").read_text()
    assert "| + PCGrad scores above the baseline | holds |" in claims
    assert "| + GSE scores above the baseline | cannot tell at this scale | no run of the gse row |" in claims
    assert "100 training examples per task" in claims

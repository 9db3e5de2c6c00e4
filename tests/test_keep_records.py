"""experiments/keep_records.sh: a scale part's finished runs are kept (records and test outputs, no weights or
caches), an unfinished one is not, and a second call copies nothing again."""
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def keep(tmp_path, part):
    return subprocess.run(["bash", str(ROOT / "experiments" / "keep_records.sh"), part], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "SRC": str(tmp_path / "runs"), "DEST": str(tmp_path / "kept")})


def test_finished_runs_are_kept_without_weights_and_only_once(tmp_path):
    done, cut, cache = (tmp_path / "runs" / "glue" / name for name in ("rte-finetune-s0", "rte-bitfit-s0", "cache"))
    for folder in (done, cut, cache / "enc"):
        folder.mkdir(parents=True)
    for name in ("run.json", "history.csv", "ledger.json", "test_probs.npy", "test_labels.npy", "best.weights.h5"):
        (done / name).write_text(name)
    (cut / "history.csv").write_text("epoch 1")  # no run.json: still running, or cut
    (cache / "enc" / "shard-00000.states.npy").write_text("states")
    (tmp_path / "runs" / "glue" / "rte-finetune-s0-seeds2.json").write_text("{}")

    first = keep(tmp_path, "glue")
    assert first.returncode == 0, first.stderr
    kept = tmp_path / "kept" / "glue"
    assert sorted(p.name for p in kept.iterdir()) == ["rte-finetune-s0", "rte-finetune-s0-seeds2.json"]
    assert sorted(p.name for p in (kept / "rte-finetune-s0").iterdir()) == [
        "history.csv", "ledger.json", "run.json", "test_labels.npy", "test_probs.npy"]
    assert first.stdout.strip() == f"keep_records: 1 new run(s) of glue kept in {kept} (1 in all)"
    assert "0 new run(s)" in keep(tmp_path, "glue").stdout

    missing = keep(tmp_path, "imdb")
    assert missing.returncode == 2 and missing.stderr.strip() == f"keep_records: no folder {tmp_path / 'runs' / 'imdb'}"

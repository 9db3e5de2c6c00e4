"""experiments/multitask.py: one-line errors, and an end-to-end tiny run that is interrupted,
resumes after its finished epoch, records one JSON, and is skipped when rerun."""
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cli():
    spec = importlib.util.spec_from_file_location("multitask_cli", ROOT / "experiments" / "multitask.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("flags, message", [
    (["--lr", "0"], "--lr must be positive"),
    (["--select-fraction", "1.5"], "--select-fraction must be in (0, 1)"),
    (["--max-examples-per-task", "5"], "--max-examples-per-task must be at least 10"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--name", "a/b"], "--name must be a plain folder name"),
])
def test_bad_flags_print_one_line_and_exit_2(capsys, flags, message):
    assert _cli().main(flags) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory, tiny_backbone):
    from minion_tf.backbones import minilm_dir

    directory = tmp_path_factory.mktemp("tinybert")
    tiny_backbone.encoder.save_pretrained(str(directory))
    shutil.copy(minilm_dir() / "tokenizer.json", directory / "tokenizer.json")
    return directory


def test_missing_data_folder(capsys, tmp_path, tiny_encoder_dir):
    rc = _cli().main(["--encoder", str(tiny_encoder_dir), "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert rc == 2 and "no minBERT data folder" in capsys.readouterr().err


def test_interrupted_run_resumes_then_is_skipped(capsys, monkeypatch, tmp_path, tiny_encoder_dir, shared_data):
    import minion_tf.training.multitask_loop as loop

    cli = _cli()
    flags = ["--encoder", str(tiny_encoder_dir), "--max-examples-per-task", "16", "--max-dev-examples", "12",
             "--epochs", "2", "--batch-size", "8", "--out", str(tmp_path), "--name", "tiny"]
    real_evaluate, calls = loop.evaluate, []

    def evaluate_then_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", evaluate_then_stop)
    assert cli.main(flags) == 130
    progress = json.loads((tmp_path / "tiny" / "progress" / "progress.json").read_text())
    assert progress["epoch"] == 1 and not (tmp_path / "tiny" / "run.json").exists()
    monkeypatch.setattr(loop, "evaluate", real_evaluate)
    capsys.readouterr()
    assert cli.main(flags) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "after epoch 1" in out
    assert "trainable params: " in out and " || all params: " in out and "2 rows with empty labels skipped" in out
    record = json.loads((tmp_path / "tiny" / "run.json").read_text())
    assert [e["index"] for e in record["epochs"]] == [0, 1]
    assert record["config"]["max_examples_per_task"] == 16 and record["data"]["para"]["skipped_empty_labels"] == 2
    assert record["params"]["trainable"] == record["params"]["total"] > 0
    final = record["final"]
    assert final["score"] == pytest.approx(
        (final["sst_accuracy"] + final["para_accuracy"] + (final["sts_pearson"] + 1) / 2) / 3, nan_ok=True)
    assert {"versions", "git_commit", "energy", "timings"} <= set(record)
    ledger = json.loads((tmp_path / "tiny" / "ledger.json").read_text())  # one entry per process
    assert record["resumes"] == 1 and len(ledger) == 2 and ledger[0]["timings"]["train_s"] > 0
    for name in ("load_s", "train_s", "total_s"):  # both processes' seconds, not only the last one's
        assert record["timings"][name] == pytest.approx(sum(e["timings"][name] for e in ledger))
    assert record["timings"]["train_s"] == pytest.approx(sum(e["train_s"] for e in record["epochs"]))
    assert record["energy"]["duration_s"] == pytest.approx(sum(e["energy"]["duration_s"] for e in ledger))
    assert cli.main(flags) == 0
    assert "already finished" in capsys.readouterr().out
    assert cli.main(flags + ["--pcgrad"]) == 2
    assert "holds a run with" in capsys.readouterr().err

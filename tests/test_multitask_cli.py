"""experiments/multitask.py (the runner with --task minbert --model multitask): one-line errors, the
earlier flags, and end-to-end tiny runs that are interrupted, resume after their finished epoch (top-k
masks too), record one JSON through the runner, and are skipped when rerun."""
import json
from pathlib import Path

import numpy as np
import pytest

from minion_tf.errors import MinionError
from minion_tf.metrics.task_metrics import minbert_metrics
from minion_tf.runs.config import RunConfig
from scripts import load_script


def _cli():
    return load_script("experiments/multitask.py", "multitask_cli")


@pytest.mark.parametrize("flags, message", [
    (["--lr", "0"], "--lr must be positive"),
    (["--select-fraction", "1.5"], "--select-fraction must be in (0, 1)"),
    (["--max-examples-per-task", "5"], "--max-examples must be at least 10"),
    (["--max-dev-examples", "5"], "--max-dev-examples must be at least 10"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--sts-head", "dot"], "--sts-head must be one of mlp, cosine, uvcos, got 'dot'"),
    (["--head-dropout", "1"], "--head-dropout must be in [0, 1)"),
    (["--smart-lambda", "nan"], "--smart-lambda must be a finite number"),
    (["--name", "a/b"], "--name is gone: a run's folder is named by its settings"),
    (["--model", "minion"], "--task minbert is run by --model multitask, not --model minion"),
    (["--task", "rte"], "--model multitask runs on --task minbert, not --task rte"),
])
def test_bad_flags_print_one_line_and_exit_2(capsys, flags, message):
    assert _cli().main(flags) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_defaults_earlier_flags_and_the_users_flags_win():
    cli = _cli()
    config = cli.config_for([])
    assert (config.task, config.model, config.epochs, config.batch_size, config.max_examples) == (
        "minbert", "multitask", 2, 16, 2000)
    assert config.resolved_lr() == 5e-5 and config.method_options()["select_fraction"] is None
    assert config.run_dir().parent == Path("runs/multitask")
    assert config.run_dir().name == f"minbert-multitask-lr5e-05-s0-{config.run_key()}"
    config = cli.config_for(["--max-examples-per-task", "300", "--epochs", "3", "--kl-consistency", "--pcgrad",
                             "--max-dev-examples", "0"])
    assert (config.max_examples, config.epochs) == (300, 3)
    options = config.method_options()
    assert (options["kl_consistency"], options["pcgrad"], options["max_dev_examples"]) == (1.0, True, None)
    assert cli.config_for(["--max-examples-per-task=40"]).max_examples == 40
    assert cli.config_for(["--max-dev-examples", "0"]).run_key() == cli.config_for([]).run_key()  # 0 = all = None
    assert cli.config_for(["--pcgrad"]).run_dir() != cli.config_for([]).run_dir()


def test_the_earlier_runners_folder_gets_the_mv_line(tmp_path):
    """Folder names of the earlier `MultitaskConfig` (its default name and key), e.g. its default run."""
    from minion_tf.runs.runner import run

    cases = [({}, {}, "mt-mlp-mean-mean-s0-150dd966"),
             ({"lr": 1e-4, "max_examples": None}, {"pcgrad": True, "select_fraction": 0.2, "kl_consistency": 1.0},
              "mt-mlp-mean-mean-pcgrad-top0.2-kl1-s0-f675e800")]
    for fields, options, name in cases:
        config = RunConfig(**{"task": "minbert", "model": "multitask", "options": options, "epochs": 2,
                              "batch_size": 16, "max_examples": 2000, "out": str(tmp_path), **fields})
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text("{}")
        with pytest.raises(MinionError, match=rf"{tmp_path / name} holds this run under its old name .*"
                                              rf"`mv {tmp_path / name} {config.run_dir()}` keeps it"):
            run(config)


def test_missing_data_folder(capsys, tmp_path, tiny_encoder_dir):
    rc = _cli().main(["--encoder", str(tiny_encoder_dir), "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert rc == 2 and "no minBERT data folder" in capsys.readouterr().err


def test_describe_counts_the_model_built_from_the_encoders_config(capsys, tiny_encoder_dir):
    cli = _cli()
    counts = {}
    for flags in ([], ["--select-fraction", "0.25"]):
        assert cli.main(["--encoder", str(tiny_encoder_dir), "--describe", *flags]) == 0
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert line.startswith("trainable params: ")
        counts[bool(flags)] = [int(part.split(": ")[1].replace(",", "")) for part in line.split(" || ")[:2]]
    (trainable, total), (top_trainable, top_total) = counts[False], counts[True]
    assert trainable == total == top_total and 0 < top_trainable < total


def _interrupt_at_second_evaluation(monkeypatch):
    import minion_tf.multitask.loop as loop

    real_predictions, calls = loop.dev_predictions, []

    def predictions_then_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_predictions(*args, **kwargs)

    monkeypatch.setattr(loop, "dev_predictions", predictions_then_stop)
    return lambda: monkeypatch.setattr(loop, "dev_predictions", real_predictions)


def test_interrupted_run_resumes_then_is_skipped(capsys, monkeypatch, tmp_path, tiny_encoder_dir, shared_data):
    cli = _cli()
    flags = ["--encoder", str(tiny_encoder_dir), "--max-examples-per-task", "16", "--max-dev-examples", "12",
             "--epochs", "2", "--batch-size", "8", "--out", str(tmp_path)]
    run_dir = cli.config_for(flags).run_dir()
    assert run_dir.parent == tmp_path and run_dir.name.startswith("minbert-multitask-lr5e-05-s0-")
    restore = _interrupt_at_second_evaluation(monkeypatch)
    assert cli.main(flags) == 130
    progress = json.loads((run_dir / "progress" / "progress.json").read_text())
    assert progress["epoch"] == 1 and not (run_dir / "run.json").exists()
    restore()
    capsys.readouterr()
    assert cli.main(flags) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "after epoch 1" in out and "dev score " in out
    assert "trainable params: " in out and " || all params: " in out and "2 rows with empty labels skipped" in out
    record = json.loads((run_dir / "run.json").read_text())
    assert [e["index"] for e in record["epochs"]] == [0, 1] and record["best_epoch"] == 1
    config = record["config"]
    assert (config["task"], config["model"], config["max_examples"], config["max_dev_examples"]) == (
        "minbert", "multitask", 16, 12)
    assert record["data"]["para"]["skipped_empty_labels"] == 2 and record["data"]["sst"] == {
        "train": 16, "dev": 12, "skipped_empty_labels": 0}
    assert record["params"]["trainable"] == record["params"]["total"] > 0
    final = record["final"]
    assert final["score"] == pytest.approx(
        (final["sst_accuracy"] + final["para_accuracy"] + (final["sts_pearson"] + 1) / 2) / 3, nan_ok=True)
    assert record["test"]["score"] == pytest.approx(final["score"], nan_ok=True)
    assert record["test"]["metrics"] == pytest.approx(final, nan_ok=True)
    assert {"versions", "git_commit", "energy", "timings", "resumes", "task", "prepared"} <= set(record)
    assert record["task"]["name"] == "minbert" and record["prepared"] == str(shared_data / "minbert")
    assert not list(run_dir.glob("*_probs.npy")) and not (run_dir / "reliability_test.png").exists()
    outputs = {t: (np.load(run_dir / f"dev_{t}_predictions.npy"), np.load(run_dir / f"dev_{t}_labels.npy"))
               for t in ("sst", "para", "sts")}  # the last epoch's dev outputs, for intervals and paired claims
    assert [len(y) for _, y in outputs.values()] == [12, 12, 12]
    assert minbert_metrics({t: p for t, (p, _) in outputs.items()}, {t: y for t, (_, y) in outputs.items()}
                           ) == pytest.approx(final, nan_ok=True)
    ledger = json.loads((run_dir / "ledger.json").read_text())  # one entry per process
    assert record["resumes"] == 1 and len(ledger) == 2 and ledger[0]["timings"]["train_s"] > 0
    for name in ("load_s", "train_s", "total_s"):  # both processes' seconds, not only the last one's
        assert record["timings"][name] == pytest.approx(sum(e["timings"][name] for e in ledger))
    assert record["timings"]["train_s"] >= sum(e["train_s"] + e["eval_s"] for e in record["epochs"])
    assert record["energy"]["duration_s"] == pytest.approx(sum(e["energy"]["duration_s"] for e in ledger))
    assert all("duration_s" in e for e in record["epochs"])  # the energy callback's figures, per epoch
    assert (run_dir / "history.csv").read_text().splitlines()[0].startswith("epoch,")
    assert cli.main(flags) == 0
    assert "already finished" in capsys.readouterr().out


def test_topk_masks_are_kept_for_the_resumed_run(capsys, monkeypatch, tmp_path, tiny_encoder_dir, shared_data):
    import minion_tf.multitask.topk as topk

    cli = _cli()
    flags = ["--encoder", str(tiny_encoder_dir), "--max-examples", "16", "--max-dev-examples", "12", "--epochs", "2",
             "--batch-size", "8", "--select-fraction", "0.3", "--out", str(tmp_path)]
    run_dir = cli.config_for(flags).run_dir()
    restore = _interrupt_at_second_evaluation(monkeypatch)
    assert cli.main(flags) == 130
    masks = dict(np.load(run_dir / "progress" / "topk_masks.npz"))
    restore()

    def no_new_selection(*args, **kwargs):
        raise AssertionError("the resumed run selected its weights again")

    monkeypatch.setattr(topk, "select_top_fraction", no_new_selection)
    capsys.readouterr()
    assert cli.main(flags) == 0
    assert "after epoch 1" in capsys.readouterr().out
    saved = np.load(run_dir / "progress" / "topk_masks.npz")
    assert all(np.array_equal(saved[k], v) for k, v in masks.items())
    record = json.loads((run_dir / "run.json").read_text())
    params = record["params"]
    assert params["selected_encoder"] == sum(int(m.sum()) for m in masks.values()) == round(0.3 * params["encoder"])
    assert params["trainable"] == params["heads"] + params["selected_encoder"] < params["total"]
    ledger = json.loads((run_dir / "ledger.json").read_text())
    assert ledger[0]["timings"]["selection_s"] > 0 and ledger[1]["timings"]["selection_s"] == 0.0

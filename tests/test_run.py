"""End to end through experiments/run.py on a tiny local encoder and a small tweet folder."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minion_tf.runs.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "experiments" / "run.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env)


def small(tiny_encoder_dir, tweet_dir, out, **kw):
    base = dict(model="minion", options={"hidden": 8}, epochs=2, batch_size=32, encoder=str(tiny_encoder_dir),
                data=str(tweet_dir), max_examples=300, max_length=16, out=str(out))
    return RunConfig(**{**base, **kw})


def test_cli_run_writes_record_weights_and_plots(tiny_encoder_dir, tweet_dir, tmp_path, capsys):
    out = tmp_path / "runs"
    result = run_cli("--model", "read", "--hidden", "8", "--encoder", tiny_encoder_dir, "--data", tweet_dir,
                     "--max-examples", 300, "--epochs", 2, "--batch-size", 32, "--max-length", 16, "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trainable params: " in result.stdout and "test: accuracy" in result.stdout
    assert "peak memory GiB, private / RSS: startup " in result.stdout
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith("read-8-lr0.001-s0-")]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["config"]["lr"] == 1e-3 and record["config"]["model"] == "read"
    assert len(record["epochs"]) == 2
    assert {"loss", "val_accuracy", "val_ace", "val_mce", "val_ece", "energy_kwh", "rss_peak_gib"} <= set(
        record["epochs"][0])
    assert record["data"] == {"train": 240, "val": 30, "test": 30}
    assert 0.0 <= record["test"]["accuracy"] <= 1.0 and record["test"]["examples"] == 30
    assert record["params"]["trainable"] > 0 and record["versions"]["tensorflow"] == "2.21.0"
    assert {"train_s", "cache_s", "total_s"} <= set(record["timings"])
    memory = record["memory"]
    assert set(memory) == {"startup", "cache", "train", "test"}
    for phase in memory.values():
        assert set(phase) == {"private_peak_gib", "uss_peak_gib", "rss_peak_gib"}
        assert 0 < phase["private_peak_gib"] <= phase["rss_peak_gib"]
    for name in ("side.weights.h5", "side_model.json", "reliability.png", "reliability_test.png",
                 "calibration_bins.json", "test_probs.npy"):
        assert (run_dir / name).is_file(), name
    # the same command again, in this process (the run above was the fresh one): nothing is redone
    from minion_tf.runs.cli import main

    capsys.readouterr()
    again = main([str(a) for a in ("--model", "read", "--hidden", "8", "--encoder", tiny_encoder_dir, "--data",
                                   tweet_dir, "--max-examples", 300, "--epochs", 2, "--batch-size", 32,
                                   "--max-length", 16, "--out", out)])
    assert again == 0 and "already finished" in capsys.readouterr().out


@pytest.fixture(scope="module")
def straight_run(tiny_encoder_dir, tweet_dir, tmp_path_factory):
    """One uninterrupted `small` run (2 epochs), trained once for the tests that only read it:
    (its config, its record, its --out folder)."""
    from minion_tf.runs.runner import run

    out = tmp_path_factory.mktemp("straight")
    config = small(tiny_encoder_dir, tweet_dir, out)
    return config, run(config), out


def test_saved_side_weights_reload_onto_the_frozen_encoder_with_identical_predictions(straight_run):
    from minion_tf.cache import open_cache
    from minion_tf.methods.side import load_side
    from minion_tf.models.streaming import StreamingSideModel
    from minion_tf.models.predicting import predict_ordered
    from minion_tf.runs.tweet_data import load_splits
    from minion_tf.token_split import TokenSplit

    config, _, out = straight_run
    run_dir = config.run_dir()
    backbone, side, saved = load_side(run_dir)
    texts, labels = load_splits(config)["test"]
    saved_probs = np.load(run_dir / "test_probs.npy")
    (test_cache,) = (out / "cache").glob("*/test-*")  # the states the run predicted from
    cached = predict_ordered(side, open_cache(test_cache).dataset(32, labels=np.asarray(labels), with_rows=True),
                             len(texts))
    np.testing.assert_allclose(cached, saved_probs, atol=1e-6)  # the reloaded weights are the trained ones
    split = TokenSplit.from_texts(backbone.tokenizer, texts, labels, saved["max_length"])
    probs = predict_ordered(StreamingSideModel(backbone, side), split.dataset(32, with_rows=True), len(texts))
    # On the frozen encoder: the states are computed again (other batches), and a float16 rounding step
    # can differ (2 of 60 outputs were seen more than 1e-5 apart in 2 of 17 runs): allow one step.
    np.testing.assert_allclose(probs, saved_probs, atol=1e-3)


def test_interrupted_run_resumes_after_its_last_epoch_and_matches_an_uninterrupted_one(
        straight_run, tiny_encoder_dir, tweet_dir, tmp_path, cut_after_first_epoch):
    from minion_tf.runs.runner import run

    _, straight, _ = straight_run  # the same config (2 epochs) in another --out
    config = small(tiny_encoder_dir, tweet_dir, tmp_path / "b")
    cut_after_first_epoch(config)
    resumed = run(config)
    assert len(resumed["epochs"]) == 2
    np.testing.assert_allclose([e["loss"] for e in resumed["epochs"]], [e["loss"] for e in straight["epochs"]],
                               rtol=1e-5)
    assert resumed["test"]["accuracy"] == straight["test"]["accuracy"]


def test_streaming_and_cache_train_the_same_model_and_only_streaming_holds_the_encoder(
        tiny_encoder_dir, tweet_dir, tmp_path, monkeypatch):
    import weakref

    import minion_tf.backbones
    from minion_tf.runs import fitting
    from minion_tf.runs.runner import run

    encoders, held = [], []
    real_load, real_fit = minion_tf.backbones.load_backbone, fitting.fit_epochs

    def load(*args, **kwargs):
        backbone = real_load(*args, **kwargs)
        encoders.append(weakref.ref(backbone.encoder))
        return backbone

    def fit_epochs(*args, **kwargs):
        held.append(encoders[-1]() is not None)  # is the encoder still in memory when training starts?
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(minion_tf.backbones, "load_backbone", load)
    monkeypatch.setattr(fitting, "fit_epochs", fit_epochs)
    cached = run(small(tiny_encoder_dir, tweet_dir, tmp_path / "c", epochs=1))
    streamed = run(small(tiny_encoder_dir, tweet_dir, tmp_path / "s", epochs=1, no_cache=True))
    assert held == [False, True]
    assert streamed["streaming"] and not cached["streaming"]
    assert streamed["epochs"][0]["loss"] == pytest.approx(cached["epochs"][0]["loss"], abs=2e-3)
    assert streamed["test"]["nll"] == pytest.approx(cached["test"]["nll"], abs=2e-3)


def test_missing_data_and_bad_flags_give_one_line(tmp_path):
    missing = run_cli("--data", tmp_path / "nope", "--out", tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "train_pos.txt" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = run_cli("--hidden", "0", "--out", tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --hidden must be at least 1, got 0"
    unknown = run_cli("--model", "nope", "--out", tmp_path)
    assert unknown.returncode == 2 and "unknown model 'nope'; known: " in unknown.stderr and "minion, multitask, prompt, read" in unknown.stderr


@pytest.mark.slow
@pytest.mark.parametrize("model, hidden, line", [
    ("minion", 64, "trainable params: 273,538 || all params: 135,173,506 || trainable%: 0.2024"),
    ("read", 256, "trainable params: 1,774,850 || all params: 136,674,818 || trainable%: 1.2986"),
])
def test_describe_bertweet_without_weights_data_or_network(model, hidden, line, tmp_path):
    result = run_cli("--model", model, "--hidden", hidden, "--encoder", "vinai/bertweet-base", "--describe",
                     "--data", tmp_path / "no-data-needed")
    assert result.returncode == 0, result.stderr[-1000:]
    assert result.stdout.strip().splitlines()[-1] == line

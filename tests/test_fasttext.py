"""The fastText baseline: end to end through run(), its probabilities, its saved model."""
import json

import numpy as np
import pytest

from minion_tf.runs.config import RunConfig


def test_fasttext_run_through_the_runner_records_calibration_and_reloads(tweet_dir, tmp_path):
    from minion_tf.methods.fasttext import FastText as FastTextMethod
    from minion_tf.runs.runner import run
    from minion_tf.runs.tweet_data import load_splits

    config = RunConfig(model="fasttext", data=str(tweet_dir), max_examples=300, out=str(tmp_path), epochs=5)
    record = run(config)
    run_dir = config.run_dir()
    assert run_dir.name.startswith("fasttext-lr0.1-s0-") and record["config"]["lr"] == 0.1
    (epoch,) = record["epochs"]
    assert {"val_accuracy", "val_loss", "val_ace", "val_mce", "val_ece", "energy_kwh", "rss_peak_gib"} <= set(epoch)
    assert record["test"]["accuracy"] > 0.7  # the words give the label away
    assert {"ace", "mce", "ece", "reliability", "temperature"} <= set(record["test"])
    assert record["params"]["trainable"] == record["params"]["total"] > 0
    assert record["fasttext"]["lr"] == 0.1 and record["fasttext"]["thread"] == 1
    probs = np.load(run_dir / "test_probs.npy")
    assert probs.shape == (30, 2) and np.allclose(probs.sum(1), 1, atol=1e-3)
    assert not list(run_dir.glob("fasttext-*"))  # the temporary training files are gone
    texts, _ = load_splits(config)["test"]
    np.testing.assert_allclose(FastTextMethod.load_predictor(run_dir)(texts), probs, atol=1e-6)
    assert json.loads((run_dir / "calibration_bins.json").read_text())["summary"]["temperature"] > 0


def test_predict_proba_puts_each_label_in_its_column(tmp_path):
    from minion_tf.baselines.fasttext import FastTextConfig, predict_proba, train_fasttext

    texts = ["good great fine"] * 20 + ["bad awful sad"] * 20
    labels = [1] * 20 + [0] * 20
    model = train_fasttext(texts, labels, FastTextConfig(epoch=5), tmp_path)
    probs = predict_proba(model, ["good great", "awful sad"], num_labels=2)
    assert probs[0, 1] > 0.5 > probs[1, 1]
    confident = train_fasttext(texts, labels, FastTextConfig(epoch=200, lr=0.5), tmp_path)
    _, raw = confident.predict(["good great fine"], k=2)
    assert raw[0].sum() > 1  # fastText's own figures overshoot (1e-5 inside its log)
    sure = predict_proba(confident, ["good great fine"], num_labels=2)
    assert (sure <= 1).all() and (sure >= 0).all() and sure.sum() == pytest.approx(1, abs=1e-6)
    assert list(tmp_path.iterdir()) == []


def test_every_input_row_starts_initialised_so_single_thread_training_never_hits_nan(tmp_path):
    """fastText leaves 9/10 of its input matrix uninitialised with one thread (see the module);
    with start vectors for every word, 20 trainings on a small vocabulary all succeed and repeat."""
    import threading

    from minion_tf.baselines.fasttext import FastTextConfig, train_fasttext

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(150)]
    texts = [" ".join(rng.choice(words, 6)) for _ in range(240)]
    labels = rng.integers(0, 2, 240)
    stop = threading.Event()
    churn = threading.Thread(target=lambda: [bytearray(50_000) for _ in iter(lambda: stop.wait(0.001), True)])
    churn.start()  # another thread allocating, as the energy sampler does: made NaN far more likely
    try:
        models = [train_fasttext(texts, labels, FastTextConfig(seed=s % 2), tmp_path) for s in range(20)]
    finally:
        stop.set()
        churn.join()
    for model in models:
        assert np.isfinite(model.get_input_matrix()).all()
    np.testing.assert_array_equal(models[0].get_output_matrix(), models[2].get_output_matrix())
    assert not np.array_equal(models[0].get_output_matrix(), models[1].get_output_matrix())


def test_a_real_nan_gives_one_clear_error(tmp_path, monkeypatch):
    import fasttext

    from minion_tf.baselines.fasttext import FastTextConfig, train_fasttext
    from minion_tf.errors import MinionError

    def diverge(**kwargs):
        raise RuntimeError("Encountered NaN.")

    monkeypatch.setattr(fasttext, "train_supervised", diverge)
    with pytest.raises(MinionError, match=r"fastText failed at lr 0.1: Encountered NaN. \(lower --lr if it diverged\)"):
        train_fasttext(["a b"], [1], FastTextConfig(), tmp_path)
    assert list(tmp_path.iterdir()) == []

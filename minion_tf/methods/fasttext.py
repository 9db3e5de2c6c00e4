"""The fastText baseline (`--model fasttext`): same splits, callbacks and record as the neural methods.

fastText trains outside Keras, so this method implements `fit` itself and drives the run's
energy and calibration callbacks by hand around its one training call: the record has one
epoch with the same keys as the neural models' (energy, memory, `val_ace`/`val_mce`/`val_ece`,
a fitted temperature).

Example:
    >>> run(RunConfig(model="fasttext", max_examples=20000))   # runs/fasttext-lr0.1-s0-<key>/
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from minion_tf.baselines.fasttext import FastTextConfig, count_params, predict_proba, train_fasttext
from minion_tf.errors import MinionError
from minion_tf.io import temporary_path
from minion_tf.methods.base import Method
from minion_tf.metrics import nll
from minion_tf.metrics.task_metrics import glue_metrics, primary_score

MODEL_FILE = "fasttext.bin"
PAIR_SEPARATOR = "|||"  # joins the two texts of a sentence pair into one fastText input


def joined(texts, pairs=None) -> list[str]:
    """The texts, each joined to its pair's second text by `PAIR_SEPARATOR` when there are pairs."""
    if pairs is None:
        return list(texts)
    return [f"{a} {PAIR_SEPARATOR} {b}" for a, b in zip(texts, pairs)]


class ProbabilityModel:
    """What the calibration callback needs of a model: `predict(texts) -> (n, C)` probabilities."""

    def __init__(self, model, num_labels: int = 2):
        self.model = model
        self.num_labels = num_labels

    def predict(self, texts, batch_size=None, verbose=0) -> np.ndarray:
        return predict_proba(self.model, list(texts), self.num_labels)

    __call__ = predict


class FastText(Method):
    """Supervised fastText (the paper's lr 0.1, `--epochs` passes) on the prepared splits."""

    name = "fasttext"
    kind = ("bag of words", "supervised fastText (SGD)")
    order = 0
    suites = ("tweets",)
    ignores = ("encoder", "tokenizer", "max_length", "batch_size", "patience", "min_delta")

    def default_lr(self) -> float:
        """The paper's rate."""
        return 0.1

    def display_name(self, encoder: str) -> str:
        return "FastText"

    def describe(self, run, spec) -> dict:
        raise MinionError("fasttext: its parameter count depends on the training vocabulary; run it to get the count")

    def fit(self, run, data, run_dir: Path, callbacks_for) -> dict:
        """Train, validate and predict the test sets; the runner's result dict."""
        if data.spec.is_regression:
            raise MinionError(f"fasttext is a classifier; task {data.spec.name} is a regression")
        texts = {name: joined(split.texts, split.pairs) for name, split in data.splits.items()}
        val_labels = data.splits["val"].labels
        callbacks = callbacks_for((texts["val"], val_labels), True)
        for callback in callbacks:
            callback.on_train_begin()
            callback.on_epoch_begin(0)
        start = time.perf_counter()
        ft_config = FastTextConfig(lr=run.resolved_lr(), epoch=run.epochs, seed=run.seed)
        model = train_fasttext(texts["train"], data.splits["train"].labels, ft_config, run_dir)
        train_s = time.perf_counter() - start
        predictor = ProbabilityModel(model, data.spec.num_labels)
        val_probs = predictor.predict(texts["val"])
        logs = {"val_loss": nll(val_probs, val_labels), "val_accuracy": float((val_probs.argmax(1) == val_labels).mean()),
                "val_score": primary_score(data.spec, glue_metrics(data.spec, val_probs, val_labels)),
                "epoch_s": train_s, "elapsed_s": train_s}
        for callback in callbacks:
            callback.set_model(predictor)
            callback.on_epoch_end(0, logs)
        for callback in callbacks:
            callback.on_train_end()
        params = count_params(model)
        print(f"fastText: {run.epochs} epochs in {train_s:.1f} s, val accuracy {logs['val_accuracy']:.4f}", flush=True)
        start = time.perf_counter()
        test_probs = {name: predictor.predict(texts[name]) for name in data.test_names}
        test_s = time.perf_counter() - start
        with temporary_path(Path(run_dir) / MODEL_FILE) as tmp:
            model.save_model(str(tmp))
        return {"history": [{k: float(v) for k, v in logs.items()}], "best_epoch": 0, "test_probs": test_probs,
                "timings": {"train_s": train_s, "test_s": test_s}, "params": {"trainable": params, "total": params},
                "details": {"fasttext": ft_config.arguments()}}

    @classmethod
    def load_predictor(cls, run_dir: Path):
        """texts (and pairs) -> (n, classes) probabilities from a finished run's `fasttext.bin`."""
        import fasttext

        path = Path(run_dir) / MODEL_FILE
        if not path.is_file():
            raise MinionError(f"{run_dir}: no {MODEL_FILE} (not a finished fasttext run)")
        loaded = fasttext.load_model(str(path))
        model = ProbabilityModel(loaded, len(loaded.labels))
        return lambda texts, pairs=None: model.predict(joined(texts, pairs))

"""The fastText baseline as a run method (`--model fasttext`): same splits, callbacks and record.

fastText trains outside Keras, so the run's energy and calibration callbacks are driven by
hand around its one training call: the record has one epoch with the same keys as the
neural models' (energy, memory, `val_ace`/`val_mce`/`val_ece`, a fitted temperature).

Example:
    >>> run(RunConfig(model="fasttext", max_examples=20000))   # runs/fasttext-h64-lr0.1-s0-<key>/
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError
from minion_tf.runs.registry import register

NUM_LABELS = 2
MODEL_FILE = "fasttext.bin"


class ProbabilityModel:
    """What the calibration callback needs of a model: `predict(texts) -> (n, C)` probabilities."""

    def __init__(self, model, num_labels: int = NUM_LABELS):
        self.model = model
        self.num_labels = num_labels

    def predict(self, texts, batch_size=None, verbose=0) -> np.ndarray:
        from minion_tf.baselines.fasttext import predict_proba

        return predict_proba(self.model, list(texts), self.num_labels)

    __call__ = predict


@register("fasttext")
class FastTextMethod:
    """Supervised fastText (the paper's lr 0.1, `--epochs` passes) on the prepared splits."""

    @staticmethod
    def default_lr(config) -> float:
        return 0.1

    def describe(self, config) -> dict:
        raise MinionError("fasttext: its parameter count depends on the training vocabulary; "
                          "run it to get the count")

    def train(self, config, splits: dict, run_dir: Path, callbacks_for) -> dict:
        from minion_tf.baselines.fasttext import FastTextConfig, count_params, train_fasttext
        from minion_tf.metrics import nll
        from minion_tf.runs.record import param_line

        val_texts, val_labels = splits["val"]
        callbacks = callbacks_for((list(val_texts), np.asarray(val_labels)))
        logs: dict = {}
        for callback in callbacks:
            callback.on_train_begin()
            callback.on_epoch_begin(0)
        start = time.perf_counter()
        ft_config = FastTextConfig(lr=config.resolved_lr(), epoch=config.epochs, seed=config.seed)
        model = train_fasttext(*splits["train"], ft_config, run_dir)
        train_s = time.perf_counter() - start
        predictor = ProbabilityModel(model)
        val_probs = predictor.predict(val_texts)
        logs.update(val_loss=nll(val_probs, val_labels),
                    val_accuracy=float((val_probs.argmax(1) == val_labels).mean()))
        for callback in callbacks:
            callback.set_model(predictor)
            callback.on_epoch_end(0, logs)
        for callback in callbacks:
            callback.on_train_end()
        params = count_params(model)
        print(param_line(params, params), flush=True)
        print(f"fastText: {config.epochs} epochs in {train_s:.1f} s, "
              f"val accuracy {logs['val_accuracy']:.4f}", flush=True)
        start = time.perf_counter()
        test_probs = predictor.predict(splits["test"][0])
        test_s = time.perf_counter() - start
        tmp = run_dir / f"{MODEL_FILE}.tmp"
        model.save_model(str(tmp))
        tmp.replace(run_dir / MODEL_FILE)
        return {"history": [{k: float(v) for k, v in logs.items()}], "test_probs": test_probs,
                "timings": {"train_s": train_s, "test_s": test_s},
                "params": {"trainable": params, "total": params},
                "details": {"fasttext": ft_config.arguments()}}

    @staticmethod
    def load_predictor(run_dir: Path):
        """texts -> (n, 2) probabilities from a finished run's `fasttext.bin`."""
        import fasttext

        path = Path(run_dir) / MODEL_FILE
        if not path.is_file():
            raise MinionError(f"{run_dir}: no {MODEL_FILE} (not a finished fasttext run)")
        return ProbabilityModel(fasttext.load_model(str(path)))

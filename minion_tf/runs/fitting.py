"""What every Keras run method shares: tokenising a run's splits, the epoch loop (resume, task score
per epoch, early stopping, checkpoints) and predictions in example order.

Example:
    >>> out = fit_epochs(config, data.spec, run_dir, model, side, optimizer, feeds, callbacks_for)
    >>> out["history"][-1]["val_score"], out["best_epoch"]
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import tf_keras as keras

from minion_tf.errors import MinionError
from minion_tf.runs.epoch_logs import EpochLogs
from minion_tf.runs.resume import EpochCheckpoint, restore_progress
from minion_tf.training.early_stopping import BestEpochStopping, ScoreTimeLogger


def compile_for(model, spec, optimizer) -> None:
    """Cross-entropy and accuracy for a classification task; MSE for a regression one (STS-B)."""
    if spec.is_regression:
        model.compile(optimizer=optimizer, loss="mse")
    else:
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def fit_epochs(config, spec, run_dir: Path, model, trained, optimizer, feeds: dict, callbacks_for,
               variables=None) -> dict:
    """Fit `model` on `feeds["train"]` for `config.epochs`, resuming after the last finished epoch.

    `trained` is the part whose weights train and are checkpointed (the side network, or the
    whole model); `variables`, if given, are the only ones the optimizer updates. `feeds` map
    "train" / "val" to objects with `dataset(batch_size, seed=..., first_epoch=...)`. Each epoch
    logs the task's validation score and time; with a patience (`config.resolved_patience()`),
    training stops early and ends on the best epoch's weights.
    Returns `{"history": per-epoch logs, "best_epoch": index, "train_s": seconds of this call}`.
    """
    trackables = {"model": trained, "optimizer": optimizer}
    optimizer.build(variables or trained.trainable_variables)  # slots exist before a restore fills them
    first_epoch, past = restore_progress(run_dir / "progress", trackables)
    if first_epoch:
        print(f"resuming {run_dir} after epoch {first_epoch}", flush=True)
    val = feeds["val"].dataset(config.batch_size)
    callbacks = [ScoreTimeLogger(spec, val, past), *callbacks_for(val, not spec.is_regression)]
    stopper = None
    if config.resolved_patience():
        stopper = BestEpochStopping(trained, run_dir / "best.weights.h5", config.resolved_patience(),
                                    config.min_delta, past)
        callbacks.append(stopper)
    checkpoint = EpochCheckpoint(run_dir / "progress", trackables, past)
    epoch_logs = EpochLogs(run_dir, config.tensorboard)
    write_logs = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epoch_logs.write(checkpoint.history))
    start = time.perf_counter()
    if first_epoch < config.epochs and not (stopper and stopper.done):
        train = feeds["train"].dataset(config.batch_size, seed=config.seed, first_epoch=first_epoch)
        model.fit(train, validation_data=val, epochs=config.epochs, initial_epoch=first_epoch, verbose=2,
                  callbacks=[*callbacks, checkpoint, write_logs])
    train_s = time.perf_counter() - start
    if stopper:
        stopper.restore()
        print(f"best epoch {stopper.best_epoch + 1}: val score {stopper.best:.4f}", flush=True)
    history = checkpoint.history
    return {"history": history, "best_epoch": stopper.best_epoch if stopper else len(history) - 1,
            "train_s": train_s}


def forward_pass(model):
    """The model's inference call as one tf.function (shapes relaxed: it traces about twice)."""
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def predict_ordered(model, dataset, n: int, num_labels: int = 2, forward=None) -> np.ndarray:
    """Outputs in example order, (n, num_labels), from a dataset built `with_rows`.

    Pass `forward=forward_pass(model)` to trace once for many calls (the chunks of a long input).
    """
    forward = forward or forward_pass(model)
    probs = np.zeros((n, num_labels), dtype=np.float32)
    for x, _, rows in dataset:
        probs[rows.numpy()] = forward(x).numpy()
    return probs


def check_max_length(config, backbone) -> None:
    if config.max_length > backbone.max_positions:
        raise MinionError(f"--max-length {config.max_length} exceeds {backbone.name}'s "
                          f"{backbone.max_positions} positions")


def tokenize(backbone, data, max_length: int) -> dict:
    """{split name: TokenSplit} of every split of a run's data (pairs joined by the tokenizer)."""
    from minion_tf.token_split import TokenSplit

    return {n: TokenSplit.from_texts(backbone.tokenizer, s.texts, s.labels, max_length, pairs=s.pairs)
            for n, s in data.splits.items()}


def predict_tests(model, feeds: dict, data, batch_size: int) -> dict:
    """{test split name: (n, outputs) predictions in example order}."""
    return {n: predict_ordered(model, feeds[n].dataset(batch_size, with_rows=True), len(data.splits[n]),
                               data.spec.num_labels) for n in data.test_names}


def encoder_predictor(backbone, model, saved: dict):
    """`predict(texts, pairs=None) -> (n, outputs)` for a model that reads token ids."""
    from minion_tf.token_split import TokenSplit

    forward = forward_pass(model)

    def predict(texts, pairs=None) -> np.ndarray:
        split = TokenSplit.from_texts(backbone.tokenizer, list(texts), np.zeros(len(texts)), saved["max_length"],
                                      pairs=pairs)
        return predict_ordered(model, split.dataset(256, with_rows=True), len(texts), saved["num_labels"], forward)

    return predict

"""Predictions in example order from a model and a dataset built `with_rows`, and a texts -> outputs
predictor for models that read token ids.

Example:
    >>> predict = encoder_predictor(backbone, model, {"max_length": 64, "num_labels": 2})
    >>> predict(["good day", "bad day"]).shape
    (2, 2)
"""
from __future__ import annotations

import numpy as np

from minion_tf.token_split import TokenSplit


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


def encoder_predictor(backbone, model, saved: dict):
    """`predict(texts, pairs=None) -> (n, outputs)` for a model that reads token ids."""
    forward = forward_pass(model)

    def predict(texts, pairs=None) -> np.ndarray:
        split = TokenSplit.from_texts(backbone.tokenizer, list(texts), np.zeros(len(texts)), saved["max_length"],
                                      pairs=pairs)
        return predict_ordered(model, split.dataset(256, with_rows=True), len(texts), saved["num_labels"], forward)

    return predict

"""Encoder-only tuning (`--model encoder-only`, UCSD report): the transformer layers and the head train.

Example:
    >>> run(RunConfig(model="encoder-only", task="imdb"))
"""
from __future__ import annotations

from minion_tf.methods.encoder import EncoderMethod, head_weights, transformer_layers


class EncoderOnly(EncoderMethod):
    """Every transformer layer trains; the embedding block is frozen."""

    name = "encoder-only"
    kind = ("transformer", "transformer layers only")
    order = 60
    suites = ("imdb",)

    def select(self, run, model) -> list:
        return [w for layer in transformer_layers(model.encoder) for w in layer.weights] + head_weights(model)

"""Embeddings-only tuning (`--model embeddings-only`, UCSD report): the embedding block and the head train.

Example:
    >>> run(RunConfig(model="embeddings-only", task="imdb", train_fraction=0.3))
"""
from __future__ import annotations

from minion_tf.methods.encoder import EncoderMethod, embedding_block, head_weights


class EmbeddingsOnly(EncoderMethod):
    """Word, position and token-type tables and their LayerNorm train; every transformer layer is frozen."""

    name = "embeddings-only"
    kind = ("transformer", "embedding block only")
    order = 50
    suites = ("imdb",)

    def select(self, run, model) -> list:
        return list(embedding_block(model.encoder).weights) + head_weights(model)

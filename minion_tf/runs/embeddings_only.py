"""Embeddings-only tuning (`--model embeddings-only`, UCSD report): the embedding block and the head train.

Example:
    >>> run(RunConfig(model="embeddings-only", task="imdb", train_fraction=0.3))
"""
from minion_tf.runs.finetune import EncoderMethod
from minion_tf.runs.registry import register


@register("embeddings-only")
class EmbeddingsOnly(EncoderMethod):
    """Word, position and token-type tables and their LayerNorm train; every transformer layer is frozen."""

    counted = "embeddings-only"

    def select(self, config, model) -> list:
        from minion_tf.models.trainability import embeddings_only

        return embeddings_only(model)

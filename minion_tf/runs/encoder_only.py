"""Encoder-only tuning (`--model encoder-only`, UCSD report): the transformer layers and the head train.

Example:
    >>> run(RunConfig(model="encoder-only", task="imdb"))
"""
from minion_tf.runs.finetune import EncoderMethod
from minion_tf.runs.registry import register


@register("encoder-only")
class EncoderOnly(EncoderMethod):
    """Every transformer layer trains; the embedding block is frozen."""

    counted = "encoder-only"

    def select(self, config, model) -> list:
        from minion_tf.models.trainability import encoder_only

        return encoder_only(model)

"""BitFit (`--model bitfit`): only the encoder's bias terms and the head are updated.

Every other encoder weight stays bit-identical: the optimizer never sees its gradient
(`models.trainability.restrict_optimizer`).

Example:
    >>> run(RunConfig(model="bitfit", task="mrpc", lr=1e-3))
"""
from minion_tf.runs.finetune import EncoderMethod
from minion_tf.runs.registry import register


@register("bitfit")
class BitFit(EncoderMethod):
    """Bias terms (Dense/attention biases and LayerNorm shifts) and the head train."""

    counted = "bitfit"

    @staticmethod
    def default_lr(config) -> float:
        """Bias-only updates need a larger rate than full fine-tuning (Ben Zaken et al. use 1e-4..1e-3)."""
        return 1e-3

    def select(self, config, model) -> list:
        from minion_tf.models.trainability import bitfit

        return bitfit(model)

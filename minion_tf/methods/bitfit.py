"""BitFit (`--model bitfit`): only the encoder's bias terms and the head train (Ben Zaken et al. 2022).

Every other encoder weight stays bit-identical: gradients are taken for the biases only.

Example:
    >>> run(RunConfig(model="bitfit", task="mrpc", lr=1e-3))
"""
from __future__ import annotations

from minion_tf.methods.encoder import EncoderMethod, encoder_weights, head_weights


def is_bias(variable) -> bool:
    """A bias term: a Dense/attention `bias` or a LayerNorm shift `beta`."""
    return variable.name.split(":")[0].rsplit("/", 1)[-1] in ("bias", "beta")


class BitFit(EncoderMethod):
    """Bias terms (Dense/attention biases and LayerNorm shifts) and the head train."""

    name = "bitfit"
    kind = ("transformer", "bias terms only (BitFit)")
    order = 30
    suites = ("glue", "imdb")

    def default_lr(self) -> float:
        """Bias-only updates need a larger rate than full fine-tuning (Ben Zaken et al. use 1e-4..1e-3)."""
        return 1e-3

    def select(self, run, model) -> list:
        return [w for w in encoder_weights(model) if is_bias(w)] + head_weights(model)

"""Full fine-tuning (`--model finetune`): every encoder weight and the head train (DESIGN.md, items 1, 3, 4).

Example:
    >>> run(RunConfig(model="finetune", max_examples=20000))   # lr 2e-5, Adam(0.9, 0.999)
"""
from __future__ import annotations

from minion_tf.methods.encoder import EncoderMethod, encoder_weights, head_weights


class FineTune(EncoderMethod):
    """Encoder and head train (the encoder's unused pooler gets no gradient, so it is left out)."""

    name = "finetune"
    kind = ("transformer", "full fine-tuning")
    order = 10
    suites = ("tweets", "glue", "imdb")

    def display_name(self, encoder: str) -> str:
        return f"{encoder} (fine-tuned)"

    def select(self, run, model) -> list:
        return encoder_weights(model) + head_weights(model)

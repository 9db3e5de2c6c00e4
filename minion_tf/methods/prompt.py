"""Prompt tuning (`--model prompt --prompt-length 20`, UCSD report): soft tokens before a frozen encoder.

Example:
    >>> run(RunConfig(model="prompt", options={"prompt_length": 20}, task="imdb", lr=1e-3))
"""
from __future__ import annotations

from dataclasses import dataclass

from minion_tf.methods.base import MethodConfig, option
from minion_tf.methods.encoder import EncoderMethod, head_weights


@dataclass(frozen=True)
class PromptConfig(MethodConfig):
    prompt_length: int = option(20, "soft tokens before the input (default 20)", minimum=1)


class PromptTuning(EncoderMethod):
    """`prompt_length` trained vectors enter the frozen encoder through `inputs_embeds`; they and the head train."""

    name = "prompt"
    size_option = "prompt_length"
    Config = PromptConfig
    kind = ("transformer", "prompt tuning (soft tokens)")
    order = 40
    suites = ("glue", "imdb")

    def default_lr(self) -> float:
        """Soft prompts train at large rates (Lester et al. use 0.3 with Adafactor); 1e-3 with Adam here."""
        return 1e-3

    def make_model(self, run, backbone, num_labels: int):
        from minion_tf.models.prompt_classifier import PromptClassifier

        return PromptClassifier(backbone.encoder, self.options.prompt_length, run.max_length, num_labels,
                                sep_id=backbone.segment_sep_id)

    def select(self, run, model) -> list:
        return [model.prompt] + head_weights(model)

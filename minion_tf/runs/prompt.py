"""Prompt tuning (`--model prompt --prompt-length 20`, UCSD report): soft tokens before a frozen encoder.

Example:
    >>> run(RunConfig(model="prompt", prompt_length=20, task="imdb", lr=1e-3))
"""
from minion_tf.runs.finetune import EncoderMethod
from minion_tf.runs.registry import register


@register("prompt")
class PromptTuning(EncoderMethod):
    """`prompt_length` trained vectors enter the frozen encoder through `inputs_embeds`; they and the head train."""

    counted = "prompt"

    @staticmethod
    def default_lr(config) -> float:
        """Soft prompts train at large rates (Lester et al. use 0.3 with Adafactor); 1e-3 with Adam here."""
        return 1e-3

    def make_model(self, config, backbone, num_labels: int):
        from minion_tf.models.prompt_classifier import PromptClassifier

        return PromptClassifier(backbone.encoder, config.prompt_length, config.max_length, num_labels,
                                sep_id=backbone.segment_sep_id)

    def select(self, config, model) -> list:
        return list(model.trainable_weights)

"""Last-k fine-tuning (`--model freeze --last-k K`, Pittsburgh report): the last K layers and the head train.

Example:
    >>> run(RunConfig(model="freeze", options={"last_k": 2}, task="rte", lr=1e-3))
"""
from __future__ import annotations

from dataclasses import dataclass

from minion_tf.errors import MinionError
from minion_tf.methods.base import MethodConfig, option
from minion_tf.methods.encoder import EncoderMethod, head_weights, transformer_layers


@dataclass(frozen=True)
class LastKConfig(MethodConfig):
    last_k: int = option(None, "the number of last encoder layers that train", minimum=1)


class FreezeAllButLastK(EncoderMethod):
    """Embeddings and the first L - K transformer layers are frozen."""

    name = "freeze"
    size_option = "last_k"
    Config = LastKConfig
    kind = ("transformer", "last-k fine-tuning")
    order = 20
    suites = ("glue",)

    def select(self, run, model) -> list:
        layers = transformer_layers(model.encoder)
        k = self.options.last_k
        if k > len(layers):
            raise MinionError(f"--last-k must be an integer in 1..{len(layers)} (the encoder's layers), got {k}")
        return [w for layer in layers[len(layers) - k:] for w in layer.weights] + head_weights(model)

"""MINION (`--model minion --hidden 64`), the paper's "orthogonal RNN" side network (DESIGN.md, item 1).

One bidirectional GRU with weights shared across layers runs along the tokens of every hidden
state, each layer's input being Dense(2h) of the state plus the previous layer's output; its
last output corrects phi_N (`minion_tf.layers.minion.MINION`).

Example:
    >>> run(RunConfig(model="minion", options={"hidden": 64}))   # lr 3e-4, the paper's
"""
from __future__ import annotations

from dataclasses import dataclass

from minion_tf.methods.base import MethodConfig, option
from minion_tf.methods.side import SideNetworkMethod


@dataclass(frozen=True)
class HiddenConfig(MethodConfig):
    """The side network's size: GRU units per direction."""

    hidden: int = option(64, "side-network GRU units h (default 64)", minimum=1)


class Minion(SideNetworkMethod):
    """MINION-h over the frozen encoder's states."""

    name = "minion"
    size_option = "hidden"
    Config = HiddenConfig
    kind = ("transformer + GRU side network", "side-tuning, MINION (orthogonal RNN over tokens)")
    order = 90
    suites = ("tweets", "glue", "imdb")

    def default_lr(self) -> float:
        """The paper's rates: MINION-8 1e-3, MINION-64/256 3e-4 (1e-3 below h = 64)."""
        return 1e-3 if self.options.hidden < 64 else 3e-4

    def side_model(self, num_states: int, model_dim: int, num_labels: int):
        from minion_tf.models.side_tuning import build_side_model

        return build_side_model(self.name, self.options.hidden, num_states, model_dim, num_labels)

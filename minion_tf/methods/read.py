"""READ (`--model read --hidden 64`), the paper's "parallel RNN" side network (DESIGN.md, item 1).

For every token independently, a bidirectional GRU runs over the layer axis of the hidden
states; its final states correct phi_N (`minion_tf.layers.read.READ`).

Example:
    >>> run(RunConfig(model="read", options={"hidden": 64}))   # lr 1e-3, the paper's
"""
from __future__ import annotations

from minion_tf.methods.minion import HiddenConfig
from minion_tf.methods.side import SideNetworkMethod


class Read(SideNetworkMethod):
    """READ-h over the frozen encoder's states."""

    name = "read"
    size_option = "hidden"
    Config = HiddenConfig
    kind = ("transformer + GRU side network", "side-tuning, READ (parallel RNN over layers)")
    order = 80
    suites = ("tweets",)

    def default_lr(self) -> float:
        """The paper's rate for READ at every h."""
        return 1e-3

    def side_model(self, num_states: int, model_dim: int, num_labels: int):
        from minion_tf.models.side_tuning import build_side_model

        return build_side_model(self.name, self.options.hidden, num_states, model_dim, num_labels)

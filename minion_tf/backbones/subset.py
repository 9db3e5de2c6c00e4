"""Some of a backbone's hidden states (`--cache-layers`): the cache then stores only those, and the
side network reads only those.

States are numbered as `hidden_states` stacks them: 0 is the embeddings' output, N (the number of
layers) the last layer's. The last state must be kept: READ and MINION add their correction to it
(phi_N), and computing it runs the whole encoder anyway, so a subset saves disk, cache reads and
side-network work, not encoder time. Every side network takes any subset (LST at least 2 states).

Example:
    >>> view = StateSubset(load_backbone(), parse_states("0,2,4,6"))
    >>> view.num_states, view.hidden_states(*view.batch(["good day"], max_length=32)).shape
    (4, TensorShape([1, 4, 4, 384]))
"""
from __future__ import annotations

from minion_tf.errors import MinionError


def parse_states(text: str) -> tuple[int, ...]:
    """``"6, 0,2,4"`` -> ``(0, 2, 4, 6)``: state indices, sorted, each once; one line for anything else."""
    try:
        states = tuple(sorted({int(part) for part in str(text).split(",")}))
    except ValueError:
        raise MinionError(f"--cache-layers {text!r}: give state indices separated by commas, e.g. 0,2,4,6 "
                          "(0 = the embeddings' output, the largest = the last layer)") from None
    if states[0] < 0:
        raise MinionError(f"--cache-layers {text!r}: state indices start at 0 (the embeddings' output)")
    return states


class StateSubset:
    """`backbone` with `hidden_states` and `num_states` cut to `states`, and `identity()` saying so
    (a cache of a subset is not a cache of every state); everything else is the backbone's."""

    def __init__(self, backbone, states: tuple[int, ...]):
        last = backbone.num_states - 1
        if states[-1] > last:
            raise MinionError(f"--cache-layers {states[-1]}: {backbone.name} has states 0..{last} "
                              "(0 = the embeddings' output)")
        if states[-1] != last:
            raise MinionError(f"--cache-layers {','.join(map(str, states))}: keep the last state, {last}: the "
                              "side networks correct it")
        self.backbone, self.states = backbone, tuple(states)

    def __getattr__(self, name):  # only what this class does not define
        if name == "backbone":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self.backbone, name)

    @property
    def num_states(self) -> int:
        return len(self.states)

    def hidden_states(self, ids, mask, training: bool = False):
        """The kept states, stacked on axis 1: (B, len(states), T, d)."""
        import tensorflow as tf

        return tf.gather(self.backbone.hidden_states(ids, mask, training=training), list(self.states), axis=1)

    def identity(self) -> dict:
        return {**self.backbone.identity(), "states": list(self.states)}

    def without_encoder(self) -> "StateSubset":
        return StateSubset(self.backbone.without_encoder(), self.states)


def state_view(backbone, cache_layers: str | None):
    """`backbone` itself when `cache_layers` is None (every state), else its `StateSubset`."""
    if cache_layers is None or isinstance(backbone, StateSubset):
        return backbone
    return StateSubset(backbone, parse_states(cache_layers))

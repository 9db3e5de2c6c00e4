"""Top-k parameter selection: only the entries with the largest accumulated squared gradient train.

Squared gradients are summed over one pass of the training data (no updates); the
`fraction` of entries with the largest sums, ranked over all given variables together,
form boolean masks. Gradients are multiplied by the masks, so with Adam (no weight decay)
the unselected entries never move: their moments stay 0 and so does their update.

Example:
    >>> masks = select_top_fraction([np.array([3.0, 1.0]), np.array([[2.0, 0.5]])], 0.5)
    >>> [m.tolist() for m in masks]
    [[True, False], [[True, False]]]
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from minion_tf.errors import MinionError


def select_top_fraction(scores: list, fraction: float) -> list[np.ndarray]:
    """Boolean masks (shaped like `scores`) selecting exactly round(fraction * total) top entries."""
    if not 0.0 < fraction <= 1.0:
        raise MinionError(f"select fraction must be in (0, 1], got {fraction}")
    flat = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in scores])
    k = max(1, int(round(fraction * flat.size)))
    chosen = np.zeros(flat.size, dtype=bool)
    chosen[np.argpartition(-flat, k - 1)[:k]] = True
    sizes = np.cumsum([np.asarray(s).size for s in scores])[:-1]
    return [part.reshape(np.shape(s)) for part, s in zip(np.split(chosen, sizes), scores)]


class SquaredGradientAccumulator:
    """Running sums of squared gradients, one float32 variable per tracked variable."""

    def __init__(self, variables):
        self.variables = list(variables)
        self.sums = [tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False) for v in self.variables]

    def add(self, grads) -> None:
        for total, g in zip(self.sums, grads):
            if g is not None:
                total.assign_add(tf.square(tf.convert_to_tensor(g)))

    def numpy(self) -> list[np.ndarray]:
        return [s.numpy() for s in self.sums]


def apply_masks(grads, masks) -> list:
    """Gradients with unselected entries zeroed (dense); a None mask leaves a gradient whole."""
    return [g if m is None or g is None else tf.convert_to_tensor(g) * m for g, m in zip(grads, masks)]

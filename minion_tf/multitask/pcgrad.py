"""PCGrad gradient surgery (Yu et al. 2020) over flat per-task gradients, in TF2.

For every task i, its gradient g_i is projected, one other task j at a time in a random
order, onto the normal plane of g_j whenever they conflict:
``if g_i . g_j < 0: g_i <- g_i - (g_i . g_j) / |g_j|^2 * g_j`` (g_j is the other task's
original gradient). The projected gradients are then summed (or averaged).

Example:
    >>> g = [tf.constant([1.0, 0.0]), tf.constant([-1.0, 1.0])]
    >>> project_conflicting(g, [[1], [0]])[0].numpy()   # [0.5, 0.5]
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def random_orders(num_tasks: int, rng: np.random.Generator) -> np.ndarray:
    """(num_tasks, num_tasks - 1) int32: row i is a random order of the tasks other than i."""
    return np.stack([rng.permutation([j for j in range(num_tasks) if j != i])
                     for i in range(num_tasks)]).astype(np.int32).reshape(num_tasks, num_tasks - 1)


def project_conflicting(task_grads, orders) -> list:
    """PCGrad-projected copies of flat per-task gradients; `orders[i]` lists the j's for task i."""
    stacked = tf.stack(task_grads)
    orders = tf.convert_to_tensor(orders, tf.int32)
    out = []
    for i in range(len(task_grads)):
        g = stacked[i]
        for k in range(len(task_grads) - 1):
            other = tf.gather(stacked, orders[i, k])
            dot = tf.reduce_sum(g * other)
            norm2 = tf.reduce_sum(other * other)
            projected = g - dot / tf.maximum(norm2, 1e-30) * other
            g = tf.where(dot < 0.0, projected, g)
        out.append(g)
    return out


def flatten(grads, variables) -> tf.Tensor:
    """One flat vector of `grads` (None -> zeros, IndexedSlices -> dense)."""
    return tf.concat([tf.reshape(tf.zeros_like(v) if g is None else tf.convert_to_tensor(g), [-1])
                      for g, v in zip(grads, variables)], axis=0)


def unflatten(vector, variables) -> list:
    """Split a flat vector back into tensors shaped like `variables`."""
    sizes = [int(np.prod(v.shape)) for v in variables]
    return [tf.reshape(part, v.shape) for part, v in zip(tf.split(vector, sizes), variables)]


def pcgrad_combine(task_grads: list[list], variables, orders, reduction: str = "sum") -> list:
    """Per-variable gradients of the summed (or mean) PCGrad-projected task gradients."""
    flat = project_conflicting([flatten(g, variables) for g in task_grads], orders)
    total = tf.add_n(flat)
    if reduction == "mean":
        total = total / float(len(flat))
    return unflatten(total, variables)

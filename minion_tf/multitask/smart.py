"""SMART's smoothness-inducing adversarial regulariser (Jiang et al. 2020) on word embeddings.

R = D(f(x + delta*), f(x)), where delta starts as Gaussian noise (std `noise`), takes one
ascent step on D of size `step` along the gradient normalised by its per-token max-norm,
and is projected onto the max-norm ball of radius `eps`. D is the symmetric KL divergence
of softmax outputs (classification) or the mean squared difference (regression). The
loss adds `lam * R`. The outputs compared should be deterministic (dropout off), so
R is exactly 0 when `noise` is 0: the ascent gradient at delta = 0 vanishes.

Example:
    >>> r = smart_regularizer(lambda e: model.from_embeddings("sst", feats, e, training=False),
    ...                       model.embeddings("sst", feats), "classification", SmartConfig())
"""
from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from minion_tf.errors import MinionError


@dataclass(frozen=True)
class SmartConfig:
    """The second report's defaults: lambda 5, step 1e-3, eps 1e-5, initial noise 1e-5."""

    lam: float = 5.0
    step: float = 1e-3
    eps: float = 1e-5
    noise: float = 1e-5

    def __post_init__(self):
        for name in ("lam", "step", "eps", "noise"):
            if not getattr(self, name) >= 0:
                raise MinionError(f"SmartConfig.{name} must be >= 0, got {getattr(self, name)}")


def symmetric_kl(logits_p, logits_q):
    """Mean over the batch of KL(p||q) + KL(q||p) of softmax distributions; a vector of
    single logits is read as Bernoulli logits."""
    if logits_p.shape.rank == 1:
        logits_p, logits_q = (tf.stack([tf.zeros_like(x), x], -1) for x in (logits_p, logits_q))
    log_p, log_q = tf.nn.log_softmax(logits_p), tf.nn.log_softmax(logits_q)
    return tf.reduce_mean(tf.reduce_sum((tf.exp(log_p) - tf.exp(log_q)) * (log_p - log_q), -1))


def divergence(kind: str, a, b):
    if kind == "classification":
        return symmetric_kl(a, b)
    if kind == "regression":
        return tf.reduce_mean(tf.square(a - b))
    raise MinionError(f"divergence kind must be classification or regression, got {kind!r}")


def smart_regularizer(eval_fn, embeds: list, kind: str, config: SmartConfig, anchor=None):
    """R (not yet times lambda): `eval_fn(list of embeddings)` -> outputs; differentiable in the
    model's weights through the final perturbed pass and the anchor `eval_fn(embeds)`."""
    if anchor is None:
        anchor = eval_fn(embeds)
    fixed = [tf.stop_gradient(e) for e in embeds]
    noise = [tf.random.normal(tf.shape(e), dtype=e.dtype) * config.noise for e in embeds]
    with tf.GradientTape() as tape:
        tape.watch(noise)
        inner = divergence(kind, eval_fn([e + n for e, n in zip(fixed, noise)]), tf.stop_gradient(anchor))
    grads = tape.gradient(inner, noise)
    deltas = []
    for n, g in zip(noise, grads):
        g = tf.zeros_like(n) if g is None else g
        direction = g / (tf.reduce_max(tf.abs(g), axis=-1, keepdims=True) + 1e-30)
        deltas.append(tf.stop_gradient(tf.clip_by_value(n + config.step * direction, -config.eps, config.eps)))
    return divergence(kind, eval_fn([e + d for e, d in zip(embeds, deltas)]), anchor)

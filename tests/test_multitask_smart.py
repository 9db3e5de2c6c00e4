"""SMART: the regulariser is >= 0, exactly 0 without noise, and matches a hand-derived value."""
import numpy as np
import pytest
import tensorflow as tf

from minion_tf.multitask.smart import SmartConfig, smart_regularizer, symmetric_kl


def _classifier(seed=0):
    rng = np.random.default_rng(seed)
    w = tf.constant(rng.normal(size=(6, 3)), tf.float32)
    return lambda embeds: tf.reduce_mean(embeds[0], axis=1) @ w * 100.0


def _embeds(seed=1):
    return [tf.constant(np.random.default_rng(seed).normal(size=(4, 5, 6)), tf.float32)]


def test_nonnegative_and_positive_with_noise():
    tf.random.set_seed(0)
    r = smart_regularizer(_classifier(), _embeds(), "classification", SmartConfig(noise=1e-3, eps=1e-3))
    assert float(r) > 0.0


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_zero_when_noise_is_zero(kind):
    r = smart_regularizer(_classifier(), _embeds(), kind, SmartConfig(noise=0.0))
    assert float(r) == 0.0


def test_linear_regression_value():
    """f(e) = sum_t e_t . w (per example): delta* = eps * s * sign(w) per token, s = sign(w . noise),
    so R = mean_b (eps * T * sum |w|)^2 whatever the noise."""
    w = np.array([0.5, -2.0, 1.0], dtype=np.float64)
    fn = lambda e: tf.reduce_sum(tf.reduce_sum(e[0], axis=1) * w, -1)  # noqa: E731
    embeds = [tf.constant(np.random.default_rng(2).normal(size=(3, 4, 3)))]
    cfg = SmartConfig(eps=1e-2, noise=1e-3, step=1.0)
    tf.random.set_seed(3)
    r = float(smart_regularizer(fn, embeds, "regression", cfg))
    np.testing.assert_allclose(r, (1e-2 * 4 * np.abs(w).sum()) ** 2, rtol=1e-9)


def test_symmetric_kl_formula():
    p, q = np.array([[1.0, 0.0, -1.0]]), np.array([[0.2, 0.3, 0.1]])
    sp, sq = np.exp(p) / np.exp(p).sum(), np.exp(q) / np.exp(q).sum()
    expected = (sp * np.log(sp / sq)).sum() + (sq * np.log(sq / sp)).sum()
    np.testing.assert_allclose(float(symmetric_kl(tf.constant(p), tf.constant(q))), expected, rtol=1e-10)


def test_config_rejects_negative():
    with pytest.raises(ValueError):
        SmartConfig(eps=-1.0)

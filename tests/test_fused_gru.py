"""The fused bidirectional GRU and MINION's two recurrences: same outputs and gradients as Keras."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from layer_testing import padded

from minion_tf.errors import MinionError
from minion_tf.layers.fused_gru import fused_bidirectional_gru
from minion_tf.layers.minion import MINION

LENGTHS = [7, 4, 1, 6]
HIDDEN = 5


def keras_bigru(width):
    gru = keras.layers.Bidirectional(keras.layers.GRU(HIDDEN, return_sequences=True))
    gru.build((None, None, width))
    rng = np.random.default_rng(3)
    for w in gru.weights:  # larger than the initialisers' weights, so every gate matters
        w.assign(rng.normal(scale=0.5, size=w.shape))
    return gru


def weights_of(gru):
    return [(d.cell.kernel, d.cell.recurrent_kernel, d.cell.bias) for d in (gru.forward_layer, gru.backward_layer)]


def outputs_and_gradients(fn, x, variables):
    upstream = tf.constant(np.random.default_rng(4).normal(size=(*x.shape[:2], 2 * HIDDEN)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = fn(x)
        loss = tf.reduce_sum(out * upstream)
    return out, tape.gradient(loss, [x, *variables])


@pytest.mark.parametrize("padding", ["right", "left"])
def test_fused_gru_equals_keras_outputs_and_gradients(padding):
    x = tf.constant(np.random.default_rng(0).normal(size=(len(LENGTHS), 7, 3)), tf.float32)
    mask = tf.sequence_mask(LENGTHS, 7)
    if padding == "left":
        mask = tf.reverse(mask, [1])
    gru = keras_bigru(3)
    expected, expected_grads = outputs_and_gradients(lambda v: gru(v, mask=mask), x, gru.trainable_variables)
    out, grads = outputs_and_gradients(lambda v: fused_bidirectional_gru(v, mask, *weights_of(gru)), x,
                                       gru.trainable_variables)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert np.all(out.numpy()[~mask.numpy()] == 0)  # padded positions: zeros, as Keras returns them
    for name, got, want in zip(["inputs"] + [v.name for v in gru.trainable_variables], grads, expected_grads):
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=name)


def test_fused_gru_time_major_and_graph_mode_agree():
    x = tf.constant(np.random.default_rng(1).normal(size=(3, 6, 4)), tf.float32)
    mask = tf.sequence_mask([6, 2, 5], 6)
    gru = keras_bigru(4)
    batch_major = fused_bidirectional_gru(x, mask, *weights_of(gru))
    traced = tf.function(lambda v: fused_bidirectional_gru(v, mask, *weights_of(gru), time_major=True))
    time_major = traced(tf.transpose(x, [1, 0, 2]))
    np.testing.assert_allclose(tf.transpose(time_major, [1, 0, 2]), batch_major, atol=1e-6)


def make_minion(recurrence):
    minion = MINION(HIDDEN, 6, recurrence=recurrence)
    minion.build((None, 3, None, 6))
    return minion


def test_minion_fused_and_keras_recurrences_agree_with_their_gradients():
    batch = np.random.default_rng(2).normal(size=(len(LENGTHS), 3, 7, 6)).astype("float32")
    states, mask = padded(batch, LENGTHS, 7, seed=1)
    fused, reference = make_minion("fused"), make_minion("keras")
    reference.set_weights(fused.get_weights())
    results = []
    for minion in (fused, reference):
        with tf.GradientTape() as tape:
            out = minion(tf.constant(states), mask=tf.constant(mask))
            loss = tf.reduce_sum(out * tf.range(out.shape[-1], dtype=tf.float32))
        results.append((out, tape.gradient(loss, minion.trainable_variables)))
    (out, grads), (expected, expected_grads) = results
    np.testing.assert_allclose(out, expected, atol=1e-5)
    for variable, got, want in zip(fused.trainable_variables, grads, expected_grads):
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=variable.name)


def test_minion_auto_takes_fused_on_a_cpu_and_its_grus_stay_cudnn_eligible():
    minion = make_minion("auto")
    assert minion.get_config()["recurrence"] == "auto"
    assert not tf.config.list_logical_devices("GPU")  # so "auto" ran the fused recurrence in these tests
    for gru in (minion.token_rnn.forward_layer, minion.token_rnn.backward_layer):
        # tf_keras' own test of the cuDNN conditions (tanh, sigmoid, reset_after, no recurrent dropout, ...)
        assert gru._could_use_gpu_kernel, gru.get_config()
        assert gru.reset_after and gru.activation is keras.activations.tanh


def test_minion_fused_refuses_a_mask_that_is_not_right_padded():
    minion = make_minion("fused")
    mask = np.array([[0, 1, 1], [1, 1, 0]], np.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="right-padded"):
        minion(tf.zeros([2, 3, 3, 6]), mask=mask)
    with pytest.raises(MinionError, match="recurrence must be one of"):
        MINION(HIDDEN, 6, recurrence="cudnn")

"""READ, MINION and MaskedMeanPooling: semantics, padding invariance, config and save/load."""
import numpy as np
import pytest
import tensorflow as tf
from layer_testing import check_layer, padded

from minion_tf.layers.masked_mean_pooling import MaskedMeanPooling
from minion_tf.layers.minion import MINION
from minion_tf.layers.read import READ

LENGTHS = [7, 4, 1, 6]
NUM_STATES, DIM, HIDDEN = 3, 6, 4


@pytest.fixture
def batch():
    shape = (len(LENGTHS), NUM_STATES, 7, DIM)
    return np.random.default_rng(0).normal(size=shape).astype("float32")


def numpy_gru(xs, kernel, recurrent_kernel, bias):
    """Keras GRU (reset_after=True, gates z, r, h) over xs (steps, in) -> every state (steps, h)."""
    h = np.zeros(recurrent_kernel.shape[0])
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    out = []
    for x in xs:
        x_z, x_r, x_h = np.split(x @ kernel + bias[0], 3)
        h_z, h_r, h_h = np.split(h @ recurrent_kernel + bias[1], 3)
        z = sigmoid(x_z + h_z)
        h = z * h + (1 - z) * np.tanh(x_h + sigmoid(x_r + h_r) * h_h)
        out.append(h)
    return np.array(out)


# ---------------------------------------------------------------- MaskedMeanPooling
def test_pooling_matches_numpy_and_ignores_non_finite_padding():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]])
    expected = np.stack([x[0, :3].mean(0), x[1].mean(0), np.zeros(4)])
    x[0, 3:] = np.nan
    x[2] = np.inf
    out = MaskedMeanPooling()(x, mask=mask).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(MaskedMeanPooling()(x[1:2]).numpy(), x[1:2].mean(1), rtol=1e-6)


def test_pooling_padding_invariance(batch):
    tokens = batch[:, -1:]  # (B, 1, 7, d): one "state" is a token sequence
    short, short_mask = padded(tokens, LENGTHS, 7, seed=1)
    long, long_mask = padded(tokens, LENGTHS, 12, seed=2)
    pooling = MaskedMeanPooling()
    np.testing.assert_allclose(
        pooling(short[:, 0], mask=short_mask), pooling(long[:, 0], mask=long_mask), rtol=1e-6
    )


def test_pooling_passes_the_layer_checks(batch):
    tokens, mask = padded(batch[:, -1:], LENGTHS, 9, seed=1)
    check_layer(lambda: MaskedMeanPooling(name="pool"), {"tokens": tokens[:, 0], "mask": mask},
                call=lambda layer, x: layer(x["tokens"], mask=x["mask"]), expected_trainable=0)


# ---------------------------------------------------------------- READ and MINION
@pytest.mark.parametrize("side", [READ, MINION])
def test_padding_does_not_change_real_positions(side, batch):
    layer = side(HIDDEN, DIM)
    short, short_mask = padded(batch, LENGTHS, 7, seed=1)
    long, long_mask = padded(batch, LENGTHS, 12, seed=2)
    out_short = layer(short, mask=short_mask).numpy()
    out_long = layer(long, mask=long_mask).numpy()
    assert out_short.shape == (4, 7, DIM) and out_long.shape == (4, 12, DIM)
    for row, length in enumerate(LENGTHS):
        np.testing.assert_allclose(out_short[row, :length], out_long[row, :length], atol=1e-6)
    # bool masks and float16 states (as the cache stores them) are accepted
    half = layer(short.astype("float16"), mask=short_mask.astype(bool))
    assert half.dtype == tf.float32


@pytest.mark.parametrize("side", [READ, MINION])
def test_no_mask_means_every_token_is_real(side, batch):
    layer = side(HIDDEN, DIM)
    all_real = np.ones((batch.shape[0], batch.shape[2]), "int32")
    np.testing.assert_allclose(layer(batch), layer(batch, mask=all_real), atol=1e-6)


def test_read_is_a_bidirectional_gru_over_layers_per_token(batch):
    read = READ(HIDDEN, DIM)
    states, mask = padded(batch, LENGTHS, 7, seed=1)
    out = read(states, mask=mask).numpy()
    forward = [w.numpy() for w in read.layer_rnn.forward_layer.weights]  # kernel, recurrent, bias
    backward = [w.numpy() for w in read.layer_rnn.backward_layer.weights]
    dense_w, dense_b = read.projection.get_weights()
    for row, length in enumerate(LENGTHS):
        for t in range(7):
            if t >= length:
                np.testing.assert_array_equal(out[row, t], 0)  # padding gets no correction
                continue
            layers = states[row, :, t]  # phi_0 .. phi_N of one token
            summed = numpy_gru(layers, *forward)[-1] + numpy_gru(layers[::-1], *backward)[-1]
            np.testing.assert_allclose(out[row, t], np.tanh(summed @ dense_w + dense_b), atol=1e-5)


def test_minion_follows_the_recurrence(batch):
    minion = MINION(HIDDEN, DIM)
    states, mask = padded(batch, LENGTHS, 7, seed=1)
    out = minion(states, mask=mask).numpy()
    bool_mask = tf.constant(mask, tf.bool)
    carry = tf.zeros([len(LENGTHS), 7, 2 * HIDDEN])
    for i in range(NUM_STATES):  # x_i = Dense(phi_i) + c_{i-1}; c_i = BiGRU(x_i)
        carry = minion.token_rnn(minion.input_projection(states[:, i]) + carry, mask=bool_mask)
    np.testing.assert_allclose(out, minion.projection(carry).numpy(), atol=1e-6)
    # the shared BiGRU really reads both ways: the first token depends on the last real one
    changed = states.copy()
    changed[0, :, 6] += 1.0
    assert not np.allclose(minion(changed, mask=mask)[0, 0], out[0, 0])


def gru_params(width, hidden):
    """One Keras GRU (reset_after=True): 3 gates of kernel, recurrent kernel and two biases."""
    return 3 * (width * hidden + hidden * hidden + 2 * hidden)


@pytest.mark.parametrize("side, expected_trainable", [
    (READ, 2 * gru_params(DIM, HIDDEN) + HIDDEN * DIM + DIM),  # BiGRU over the states, Dense(d)
    (MINION, DIM * 2 * HIDDEN + 2 * HIDDEN + 2 * gru_params(2 * HIDDEN, HIDDEN) + 2 * HIDDEN * DIM + DIM),
])
def test_side_layer_passes_the_layer_checks(side, expected_trainable, batch):
    states, mask = padded(batch, LENGTHS, 7, seed=1)
    layer = check_layer(lambda: side(HIDDEN, DIM, name="side"), {"states": states, "mask": mask},
                        call=lambda layer, x: layer(x["states"], mask=x["mask"]),
                        expected_trainable=expected_trainable)
    assert (layer.hidden, layer.model_dim) == (HIDDEN, DIM)


def test_minion_gru_settings_are_cudnn_eligible():
    """tf_keras' own test of cuDNN's conditions (tanh, sigmoid, reset_after, no recurrent dropout, no unroll)."""
    minion = MINION(HIDDEN, DIM)
    for gru in (minion.token_rnn.forward_layer, minion.token_rnn.backward_layer):
        assert gru._could_use_gpu_kernel and gru.reset_after, gru.get_config()

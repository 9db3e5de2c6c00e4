"""MINION, the "orthogonal RNN" side network: a shared bidirectional GRU over tokens, per layer."""
import tensorflow as tf
import tf_keras as keras

from minion_tf.errors import MinionError
from minion_tf.layers.fused_gru import fused_bidirectional_gru

RECURRENCES = ("auto", "keras", "fused")


@keras.saving.register_keras_serializable(package="minion_tf")
class MINION(keras.layers.Layer):
    """Runs one bidirectional GRU along the tokens at every layer, carrying its output upward.

    Input `states` is `(B, S, T, d)`: S hidden states phi_0..phi_N of T tokens; `mask` is
    `(B, T)`, 1 for real tokens. With the Dense(2 * hidden) `input_projection` and the
    bidirectional GRU `token_rnn` (hidden units per direction, concatenated) shared by all
    layers: `x_i = input_projection(phi_i) + c_{i-1}`, `c_i = token_rnn(x_i, mask)`,
    `c_{-1} = 0`. The output Dense(model_dim, tanh)(c_N), `(B, T, model_dim)`, is the
    correction the side-tuning model adds to phi_N. The GRU skips masked tokens, so
    padding leaves the outputs at real tokens unchanged.

    `recurrence` says how the GRU runs, on the same weights and to the same outputs:
    "keras" calls `token_rnn` (cuDNN on a GPU: its settings are cuDNN's), "fused" runs
    `fused_bidirectional_gru` (both directions in one loop, hand-written gradient: several
    times faster on a CPU; masks must be right-padded), "auto" (default) takes "keras" when
    TensorFlow sees a GPU, else "fused".

    Example:
        >>> minion = MINION(hidden=8, model_dim=16)
        >>> minion(tf.random.normal([2, 3, 5, 16]), mask=tf.ones([2, 5])).shape
        TensorShape([2, 5, 16])
    """

    def __init__(self, hidden, model_dim, recurrence="auto", **kwargs):
        super().__init__(**kwargs)
        if recurrence not in RECURRENCES:
            raise MinionError(f"MINION: recurrence must be one of {', '.join(RECURRENCES)}, got {recurrence!r}")
        self.hidden = hidden
        self.model_dim = model_dim
        self.recurrence = recurrence
        self.supports_masking = True
        self.input_projection = keras.layers.Dense(2 * hidden, name="input_projection")
        self.token_rnn = keras.layers.Bidirectional(
            keras.layers.GRU(hidden, return_sequences=True, name="gru"),
            merge_mode="concat",
            name="token_rnn",
        )
        self.projection = keras.layers.Dense(model_dim, activation="tanh", name="projection")

    def build(self, input_shape):
        with tf.name_scope(self.input_projection.name):  # unique weight names for .h5 files
            self.input_projection.build((None, None, input_shape[-1]))
        with tf.name_scope(self.token_rnn.name):
            self.token_rnn.build((None, None, 2 * self.hidden))
        with tf.name_scope(self.projection.name):
            self.projection.build((None, None, 2 * self.hidden))
        super().build(input_shape)

    def call(self, states, mask=None):
        inputs = self.input_projection(tf.cast(states, self.compute_dtype))  # (B, S, T, 2h)
        recurrence = self.recurrence
        if recurrence == "auto":
            recurrence = "keras" if tf.config.list_logical_devices("GPU") else "fused"
        if recurrence == "fused":
            return self._fused(inputs, mask)
        if mask is not None:
            mask = tf.cast(mask, tf.bool)
        carry = None  # a Python loop over the S states: each GRU call can take cuDNN's kernel
        for layer in tf.unstack(inputs, axis=1):
            carry = self.token_rnn(layer if carry is None else layer + carry, mask=mask)
        return self.projection(carry)

    def _fused(self, inputs, mask):
        """The same recurrence through `fused_bidirectional_gru`, time-major throughout."""
        if mask is None:
            mask = tf.ones(tf.shape(inputs)[::2], tf.int32)
        else:
            lengths = tf.reduce_sum(tf.cast(mask, tf.int32), 1)
            tf.debugging.assert_equal(
                tf.cast(mask, tf.bool), tf.sequence_mask(lengths, tf.shape(mask)[1]),
                message="MINION: the mask must be right-padded (real tokens first)")
        cells = (self.token_rnn.forward_layer.cell, self.token_rnn.backward_layer.cell)
        weights = [(cell.kernel, cell.recurrent_kernel, cell.bias) for cell in cells]
        carry = None
        for layer in tf.unstack(tf.transpose(inputs, [1, 2, 0, 3])):  # S states of (T, B, 2h)
            carry = fused_bidirectional_gru(layer if carry is None else layer + carry, mask, *weights,
                                            time_major=True)
        return self.projection(tf.transpose(carry, [1, 0, 2]))

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], input_shape[2], self.model_dim])

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, "model_dim": self.model_dim,
                "recurrence": self.recurrence}

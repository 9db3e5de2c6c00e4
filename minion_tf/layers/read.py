"""READ, the "parallel RNN" side network: a bidirectional GRU over the layer axis, per token."""
import tensorflow as tf
import tf_keras as keras


@keras.saving.register_keras_serializable(package="minion_tf")
class READ(keras.layers.Layer):
    """For every real token, reads its hidden states phi_0..phi_N with a bidirectional GRU.

    Input `states` is `(B, S, T, d)`: S hidden states (embedding output first, last layer
    last) of T tokens; `mask` is `(B, T)`, 1 for real tokens. The final forward and backward
    GRU states are summed (size `hidden`) and mapped by Dense(model_dim, tanh): the output
    `(B, T, model_dim)` is the correction the side-tuning model adds to phi_N. Only the real
    tokens are gathered and run; padded positions get exact zeros, so outputs at real
    tokens do not depend on padding.

    Example:
        >>> read = READ(hidden=8, model_dim=16)
        >>> read(tf.random.normal([2, 3, 5, 16]), mask=tf.ones([2, 5])).shape
        TensorShape([2, 5, 16])
    """

    def __init__(self, hidden, model_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.model_dim = model_dim
        self.supports_masking = True
        self.layer_rnn = keras.layers.Bidirectional(
            keras.layers.GRU(hidden, time_major=True, name="gru"),  # steps over the S states
            merge_mode="sum",
            name="layer_rnn",
        )
        self.projection = keras.layers.Dense(model_dim, activation="tanh", name="projection")

    def build(self, input_shape):
        num_states, width = input_shape[1], input_shape[-1]
        with tf.name_scope(self.layer_rnn.name):  # unique weight names for .h5 files
            self.layer_rnn.build((num_states, None, width))
        with tf.name_scope(self.projection.name):
            self.projection.build((None, self.hidden))
        super().build(input_shape)

    def call(self, states, mask=None):
        shape = tf.shape(states)
        batch, num_states, tokens, width = shape[0], shape[1], shape[2], shape[3]
        if mask is None:
            mask = tf.ones([batch, tokens], tf.bool)
        real = tf.where(tf.cast(mask, tf.bool))  # (n, 2): (row, token) of each real token
        real_32 = tf.cast(real, tf.int32)
        # Row of (b, s, t) in states flattened to (B * S * T, d), gathered time-major (S, n, d).
        first = real_32[:, 0] * num_states * tokens + real_32[:, 1]
        rows = first[tf.newaxis, :] + (tf.range(num_states) * tokens)[:, tf.newaxis]
        per_token = tf.cast(tf.gather(tf.reshape(states, [-1, width]), rows), self.compute_dtype)
        correction = self.projection(self.layer_rnn(per_token))
        out_shape = tf.cast(tf.stack([batch, tokens, self.model_dim]), tf.int64)
        return tf.scatter_nd(real, correction, out_shape)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], input_shape[2], self.model_dim])

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, "model_dim": self.model_dim}

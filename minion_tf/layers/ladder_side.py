"""Ladder Side-Tuning (Sung et al. 2022): a narrow transformer fed by gated ladders from every state."""
import math

import tensorflow as tf
import tf_keras as keras

from minion_tf.errors import MinionError


@keras.saving.register_keras_serializable(package="minion_tf")
class LadderSide(keras.layers.Layer):
    """A transformer of width `d_s = model_dim // reduction`, one block per encoder layer, reading
    the hidden states phi_0..phi_N through linear downsamples ("ladders") and gates.

    Input `states` is `(B, S, T, model_dim)`: S = N + 1 hidden states (embedding output first,
    last layer last), float16 (as the cache stores them) or float32, cast to the compute dtype;
    `mask` is `(B, T)`, 1 for real tokens. With `down_i` a Dense(d_s) of its own per state:

        h_0 = down_0(phi_0)
        x_i = mu_i * down_i(phi_i) + (1 - mu_i) * h_{i-1},   mu_i = sigmoid(alpha_i / T)
        h_i = block_i(x_i, mask)                              for i = 1..N
        out = upsample(LN(h_N))                               (B, T, model_dim)

    The gate logits alpha_i start at 0, so every mu_i starts at 0.5; T is `gate_temperature`
    (0.1, both as in Sung et al.). (Their code puts mu_i on h_{i-1} instead: the same family,
    alpha_i -> -alpha_i.) Each block is pre-LN, as the paper's T5 side network:
    `x + Drop(MHA(LN(x)))`, then `x + Drop(W2 gelu(W1 LN(x)))`; MHA has `num_heads` heads
    (None: ceil(d_s / 64), at least 1) of size ceil(d_s / heads) and attends to real tokens
    only; the FFN has `ffn_dim` units (None: 4 * d_s, the BERT ratio; the paper divides the
    backbone's d_ff by the reduction, which is the same for BERT-shaped encoders). A final
    LayerNorm precedes the Dense(model_dim) upsample. The side network has no position
    embeddings of its own: the ladders carry the encoder's.

    Padded positions are selected away (set to 0) on the way in, get no attention and are 0
    on the way out, so outputs never depend on what lies under mask 0, even non-finite values.
    The output is the upsampled sequence, not pooled: the side model pools and classifies it.

    Example:
        >>> lst = LadderSide(num_states=3, model_dim=16, reduction=4)
        >>> lst(tf.random.normal([2, 3, 5, 16]), mask=tf.ones([2, 5])).shape
        TensorShape([2, 5, 16])
    """

    def __init__(self, num_states, model_dim, reduction=8, num_heads=None, ffn_dim=None, dropout=0.1,
                 gate_temperature=0.1, layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.num_states = num_states
        self.model_dim = model_dim
        self.reduction = reduction
        self.num_heads = num_heads
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.gate_temperature = gate_temperature
        self.layer_norm_epsilon = layer_norm_epsilon
        self.supports_masking = True
        if num_states < 2:
            raise MinionError(f"LadderSide: needs the embedding output and at least one layer, got {num_states} states")
        if not 1 <= reduction <= model_dim:
            raise MinionError(f"LadderSide: reduction must be in 1..{model_dim} (the width), got {reduction}")
        side_dim = model_dim // reduction
        heads = num_heads if num_heads is not None else max(1, math.ceil(side_dim / 64))
        head_dim = math.ceil(side_dim / heads)
        ffn = ffn_dim if ffn_dim is not None else 4 * side_dim
        # Derived sizes (not arguments): the width, heads, head size and FFN units actually built.
        self.side_dim, self.heads, self.head_dim, self.ffn_units = side_dim, heads, head_dim, ffn

        def dense(units, name, activation=None):
            return keras.layers.Dense(units, activation=activation, name=name)

        def norm(name):
            return keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name=name)

        blocks = range(1, num_states)
        self.downsamples = [dense(side_dim, f"downsample_{i}") for i in range(num_states)]
        self.attention_norms = [norm(f"block_{i}_attention_norm") for i in blocks]
        self.queries = [dense(heads * head_dim, f"block_{i}_query") for i in blocks]
        self.keys = [dense(heads * head_dim, f"block_{i}_key") for i in blocks]
        self.values = [dense(heads * head_dim, f"block_{i}_value") for i in blocks]
        self.attention_outputs = [dense(side_dim, f"block_{i}_attention_output") for i in blocks]
        self.ffn_norms = [norm(f"block_{i}_ffn_norm") for i in blocks]
        self.intermediates = [dense(ffn, f"block_{i}_intermediate", "gelu") for i in blocks]
        self.ffn_outputs = [dense(side_dim, f"block_{i}_ffn_output") for i in blocks]
        self.final_norm = norm("final_norm")
        self.upsample = dense(model_dim, "upsample")
        self.attention_dropout = keras.layers.Dropout(dropout, name="attention_dropout")
        self.residual_dropout = keras.layers.Dropout(dropout, name="residual_dropout")

    def build(self, input_shape):
        input_shape = tf.TensorShape(input_shape)
        if input_shape.rank != 4 or input_shape[1] != self.num_states or input_shape[-1] != self.model_dim:
            raise MinionError(f"LadderSide: states must be (B, {self.num_states}, T, {self.model_dim}), "
                              f"got {input_shape}")
        self.gate_logits = self.add_weight(  # alpha_1..alpha_N
            name="gate_logits", shape=(self.num_states - 1,), initializer="zeros", trainable=True)
        side, inner = (None, None, self.side_dim), (None, None, self.heads * self.head_dim)
        shapes = [(layer, (None, None, self.model_dim)) for layer in self.downsamples]
        for i in range(self.num_states - 1):
            shapes += [(self.attention_norms[i], side), (self.queries[i], side), (self.keys[i], side),
                       (self.values[i], side), (self.attention_outputs[i], inner), (self.ffn_norms[i], side),
                       (self.intermediates[i], side), (self.ffn_outputs[i], (None, None, self.ffn_units))]
        shapes += [(self.final_norm, side), (self.upsample, side)]
        for layer, shape in shapes:
            with tf.name_scope(layer.name):  # unique weight names for .h5 files
                layer.build(shape)
        super().build(input_shape)

    def gates(self):
        """mu_1..mu_N: the weight of each layer's downsampled state against the side network's own."""
        return tf.sigmoid(self.gate_logits / self.gate_temperature)

    def _attend(self, i, x, key_bias, training):
        batch, tokens = tf.shape(x)[0], tf.shape(x)[1]

        def split(projection):  # (B, T, H * k) -> (B, H, T, k)
            heads = tf.reshape(projection, [batch, tokens, self.heads, self.head_dim])
            return tf.transpose(heads, [0, 2, 1, 3])

        query, key, value = split(self.queries[i](x)), split(self.keys[i](x)), split(self.values[i](x))
        scores = tf.matmul(query, key, transpose_b=True) / math.sqrt(self.head_dim)  # (B, H, T, T)
        weights = tf.nn.softmax(tf.cast(scores, tf.float32) + key_bias, axis=-1)  # float32 under mixed precision
        weights = self.attention_dropout(tf.cast(weights, x.dtype), training=training)
        context = tf.transpose(tf.matmul(weights, value), [0, 2, 1, 3])
        return self.attention_outputs[i](tf.reshape(context, [batch, tokens, self.heads * self.head_dim]))

    def _block(self, i, x, key_bias, training):
        x = x + self.residual_dropout(self._attend(i, self.attention_norms[i](x), key_bias, training),
                                      training=training)
        ffn = self.ffn_outputs[i](self.intermediates[i](self.ffn_norms[i](x)))
        return x + self.residual_dropout(ffn, training=training)

    def call(self, states, mask=None, training=None):
        states = tf.cast(states, self.compute_dtype)
        shape = tf.shape(states)
        if mask is None:
            mask = tf.ones([shape[0], shape[2]], tf.bool)
        keep = tf.cast(mask, tf.bool)  # (B, T)
        states = tf.where(keep[:, tf.newaxis, :, tf.newaxis], states, tf.zeros_like(states))
        key_bias = tf.where(keep, 0.0, -1e9)[:, tf.newaxis, tf.newaxis, :]  # (B, 1, 1, T), float32
        gates = tf.cast(self.gates(), self.compute_dtype)
        hidden = self.downsamples[0](states[:, 0])
        for i in range(1, self.num_states):  # unrolled: each block has weights of its own
            mixed = gates[i - 1] * self.downsamples[i](states[:, i]) + (1 - gates[i - 1]) * hidden
            hidden = self._block(i - 1, mixed, key_bias, training)
        out = self.upsample(self.final_norm(hidden))
        return tf.where(keep[:, :, tf.newaxis], out, tf.zeros_like(out))

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], input_shape[2], self.model_dim])

    def get_config(self):
        return {**super().get_config(), "num_states": self.num_states, "model_dim": self.model_dim,
                "reduction": self.reduction, "num_heads": self.num_heads, "ffn_dim": self.ffn_dim,
                "dropout": self.dropout, "gate_temperature": self.gate_temperature,
                "layer_norm_epsilon": self.layer_norm_epsilon}

"""A post-LN transformer encoder block (self-attention + feed-forward), mask-aware."""
import tensorflow as tf
import tf_keras as keras

from minion_tf.errors import MinionError


@keras.saving.register_keras_serializable(package="minion_tf")
class TransformerBlock(keras.layers.Layer):
    """`LN(x + Drop(MHA(x, x)))`, then `LN(h + Drop(W2 gelu(W1 h)))`, as in BERT's layers.

    Padding keys (mask 0) get no attention; the width d is taken from the input.

    Example:
        >>> block = TransformerBlock(num_heads=2, ffn_dim=64)
        >>> block(tf.ones((2, 5, 32)), mask=tf.constant([[1] * 5, [1, 1, 0, 0, 0]])).shape
        TensorShape([2, 5, 32])
    """

    def __init__(self, num_heads: int = 4, ffn_dim: int = 1536, dropout: float = 0.1,
                 layer_norm_epsilon: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.supports_masking = True

    def build(self, input_shape):
        width = int(input_shape[-1])
        if width % self.num_heads:
            raise MinionError(f"TransformerBlock: width {width} is not divisible by {self.num_heads} heads")
        self.attention = keras.layers.MultiHeadAttention(self.num_heads, width // self.num_heads,
                                                         dropout=self.dropout, name="attention")
        self.attention_dropout = keras.layers.Dropout(self.dropout, name="attention_dropout")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, name="attention_norm")
        self.intermediate = keras.layers.Dense(self.ffn_dim, activation="gelu", name="intermediate")
        self.output_dense = keras.layers.Dense(width, name="output_dense")
        self.output_dropout = keras.layers.Dropout(self.dropout, name="output_dropout")
        self.output_norm = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, name="output_norm")
        self.attention._build_from_signature(query=input_shape, value=input_shape)
        self.attention_norm.build(input_shape)
        self.intermediate.build(input_shape)
        self.output_dense.build(tf.TensorShape(input_shape)[:-1].concatenate([self.ffn_dim]))
        self.output_norm.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, mask=None, training=None):
        attention_mask = None
        if mask is not None:
            keys = tf.cast(mask, tf.bool)[:, tf.newaxis, :]
            attention_mask = tf.repeat(keys, tf.shape(inputs)[1], axis=1)
        attended = self.attention(inputs, inputs, attention_mask=attention_mask, training=training)
        hidden = self.attention_norm(inputs + self.attention_dropout(attended, training=training))
        ffn = self.output_dense(self.intermediate(hidden))
        return self.output_norm(hidden + self.output_dropout(ffn, training=training))

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "ffn_dim": self.ffn_dim,
                "dropout": self.dropout, "layer_norm_epsilon": self.layer_norm_epsilon}

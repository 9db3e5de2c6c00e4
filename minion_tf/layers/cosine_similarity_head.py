"""Siamese STS heads from the second CS224N report: cosine similarity of the two sentences."""
import tensorflow as tf
import tf_keras as keras

from minion_tf.errors import MinionError
from minion_tf.layers.masked_mean_pooling import POOLINGS, MaskedMeanPooling
from minion_tf.layers.task_head import pool_tokens
from minion_tf.layers.transformer_block import TransformerBlock

MODES = ("cosine", "uvcos")


@keras.saving.register_keras_serializable(package="minion_tf")
class CosineSimilarityHead(keras.layers.Layer):
    """Scores a sentence pair 0..5 from separately encoded sentences u and v.

    Both sentences pass the same extra transformer layer and pooling. `mode="cosine"`:
    `5 * sigmoid(20 * cos(u, v))` (no further weights). `mode="uvcos"`: the 2d+1 features
    `[u; v; cos(u, v)]` go through dropout, Dense, GELU, dropout and a projection to one score.
    Inputs: dict with `sequence_a`, `mask_a`, `sequence_b`, `mask_b`; returns (B, 1).

    Example:
        >>> head = CosineSimilarityHead("cosine", num_heads=2, ffn_dim=64)
        >>> x = {"sequence_a": tf.ones((2, 4, 32)), "mask_a": tf.ones((2, 4), tf.int32),
        ...      "sequence_b": tf.ones((2, 3, 32)), "mask_b": tf.ones((2, 3), tf.int32)}
        >>> head(x).shape
        TensorShape([2, 1])
    """

    def __init__(self, mode: str = "cosine", hidden_units: int = 384, num_heads: int = 4, ffn_dim: int = 1536,
                 dropout: float = 0.1, pooling: str = "mean", scale: float = 20.0, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise MinionError(f"CosineSimilarityHead: mode must be one of {MODES}, got {mode!r}")
        if pooling not in POOLINGS:
            raise MinionError(f"CosineSimilarityHead: pooling must be one of {POOLINGS}, got {pooling!r}")
        self.mode = mode
        self.hidden_units = hidden_units
        self.num_heads = num_heads
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.pooling = pooling
        self.scale = scale
        self.block = TransformerBlock(num_heads, ffn_dim, dropout, name="block")
        self.mean_pooling = MaskedMeanPooling(name="mean_pooling")
        if mode == "uvcos":
            self.input_dropout = keras.layers.Dropout(dropout, name="input_dropout")
            self.dense = keras.layers.Dense(hidden_units, activation="gelu", name="dense")
            self.hidden_dropout = keras.layers.Dropout(dropout, name="hidden_dropout")
            self.projection = keras.layers.Dense(1, name="projection")

    def embed(self, sequence, mask, training=None):
        """The pooled vector of one side of the pair."""
        return pool_tokens(self.pooling, self.mean_pooling, self.block(sequence, mask=mask, training=training), mask)

    def call(self, inputs, training=None):
        u = self.embed(inputs["sequence_a"], inputs["mask_a"], training)
        v = self.embed(inputs["sequence_b"], inputs["mask_b"], training)
        cos = tf.reduce_sum(tf.math.l2_normalize(u, -1) * tf.math.l2_normalize(v, -1), -1, keepdims=True)
        if self.mode == "cosine":
            return 5.0 * tf.sigmoid(self.scale * cos)
        features = tf.concat([u, v, cos], -1)
        hidden = self.dense(self.input_dropout(features, training=training))
        return self.projection(self.hidden_dropout(hidden, training=training))

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "hidden_units": self.hidden_units,
                "num_heads": self.num_heads, "ffn_dim": self.ffn_dim, "dropout": self.dropout,
                "pooling": self.pooling, "scale": self.scale}

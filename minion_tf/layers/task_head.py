"""One task's head of the multi-task model (CS224N minBERT, first report)."""
import tensorflow as tf
import tf_keras as keras

from minion_tf.errors import MinionError
from minion_tf.layers.masked_mean_pooling import POOLINGS, MaskedMeanPooling
from minion_tf.layers.transformer_block import TransformerBlock


def pool_tokens(pooling: str, mean_pooling, sequence, mask):
    """The head's sentence vector: masked mean of the tokens, or the first ([CLS]) token."""
    return mean_pooling(sequence, mask=mask) if pooling == "mean" else sequence[:, 0]


@keras.saving.register_keras_serializable(package="minion_tf")
class TaskHead(keras.layers.Layer):
    """Extra transformer layer; its pooled outputs concatenated with the encoder's pooler output;
    dropout, Dense, GELU, dropout, projection to `num_outputs`.

    Inputs are a dict: `sequence` (B, T, d) encoder states, `mask` (B, T), `pooled` (B, d).
    `pooling` "mean" (the report's) averages the block's outputs over real tokens; "cls"
    takes the first token. Returns (B, num_outputs) logits or scores.

    Example:
        >>> head = TaskHead(num_outputs=5, hidden_units=32, num_heads=2, ffn_dim=64)
        >>> head({"sequence": tf.ones((2, 4, 32)), "mask": tf.ones((2, 4), tf.int32),
        ...       "pooled": tf.ones((2, 32))}).shape
        TensorShape([2, 5])
    """

    def __init__(self, num_outputs: int, hidden_units: int = 384, num_heads: int = 4, ffn_dim: int = 1536,
                 dropout: float = 0.1, pooling: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if pooling not in POOLINGS:
            raise MinionError(f"TaskHead: pooling must be one of {POOLINGS}, got {pooling!r}")
        self.num_outputs = num_outputs
        self.hidden_units = hidden_units
        self.num_heads = num_heads
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.pooling = pooling
        self.block = TransformerBlock(num_heads, ffn_dim, dropout, name="block")
        self.mean_pooling = MaskedMeanPooling(name="mean_pooling")
        self.input_dropout = keras.layers.Dropout(dropout, name="input_dropout")
        self.dense = keras.layers.Dense(hidden_units, activation="gelu", name="dense")
        self.hidden_dropout = keras.layers.Dropout(dropout, name="hidden_dropout")
        self.projection = keras.layers.Dense(num_outputs, name="projection")

    def call(self, inputs, training=None):
        sequence, mask = inputs["sequence"], inputs["mask"]
        states = self.block(sequence, mask=mask, training=training)
        features = tf.concat([pool_tokens(self.pooling, self.mean_pooling, states, mask), inputs["pooled"]], -1)
        hidden = self.dense(self.input_dropout(features, training=training))
        return self.projection(self.hidden_dropout(hidden, training=training))

    def get_config(self):
        return {**super().get_config(), "num_outputs": self.num_outputs, "hidden_units": self.hidden_units,
                "num_heads": self.num_heads, "ffn_dim": self.ffn_dim, "dropout": self.dropout,
                "pooling": self.pooling}

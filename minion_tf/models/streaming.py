"""Feed a side model from a frozen encoder batch by batch, instead of from the cache.

The states are rounded to float16 exactly as the cache stores them, so a model trained
either way sees the same inputs (up to the order of float operations in the encoder).

Example:
    >>> model = StreamingSideModel(backbone, build_side_model("minion", 64, 7, 384))
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> model.fit(token_split.dataset(256, seed=0))   # ({"ids", "mask"}, label) batches
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


class StreamingSideModel(keras.Model):
    """Encoder (frozen, not saved) -> float16 states -> side model (the only trainable part)."""

    def __init__(self, backbone, side_model, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.side_model = side_model
        backbone.encoder.trainable = False

    def call(self, inputs, training=False):
        states = self.backbone.hidden_states(inputs["ids"], inputs["mask"], training=False)
        states = tf.stop_gradient(tf.cast(states, tf.float16))
        return self.side_model({"states": states, "mask": inputs["mask"]}, training=training)

"""A transformer encoder with a softmax head: the model of full fine-tuning (and its variants).

The encoder is a transformers TF model, i.e. a tf_keras layer, and so is this model: its
weights are trained by tf_keras' `fit`. (Wrapped in a Keras 3 model, the encoder would be
left silently unchanged; DESIGN.md, "Verified stack".) Which weights train is the caller's
choice (a method module sets `trainable`); the model itself only wires the layers.

Example:
    >>> model = EncoderClassifier(backbone.encoder, num_labels=2, pooling="mean")
    >>> model({"ids": ids, "mask": mask}).shape      # (B, 2) probabilities
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from minion_tf.backbones import segment_ids
from minion_tf.errors import MinionError
from minion_tf.layers.masked_mean_pooling import POOLINGS, MaskedMeanPooling
from minion_tf.models.side_tuning import output_activation


@keras.saving.register_keras_serializable(package="minion_tf")
class EncoderClassifier(keras.Model):
    """Encoder -> masked mean over real tokens (or the first token) -> dropout -> Dense softmax.

    Inputs are `{"ids": (B, T) int32, "mask": (B, T) int32}`; outputs `(B, num_labels)`
    float32 probabilities. With `sep_id` (`Backbone.segment_sep_id`), a pair's second text gets
    token type 1 (`backbones.segment_ids`). The encoder's own pooler (BERT's tanh layer on [CLS]) is not
    used, so it is frozen: it would get no gradient.
    """

    def __init__(self, encoder, num_labels: int = 2, pooling: str = "mean", dropout: float = 0.1,
                 sep_id: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_labels, int) or num_labels < 1:
            raise MinionError(f"EncoderClassifier: num_labels must be an integer >= 1 (1: regression), got {num_labels!r}")
        if pooling not in POOLINGS:
            raise MinionError(f"EncoderClassifier: pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if not 0 <= dropout < 1:
            raise MinionError(f"EncoderClassifier: dropout must be in [0, 1), got {dropout}")
        self.encoder = encoder
        self.num_labels = num_labels
        self.pooling = pooling
        self.dropout = dropout
        self.sep_id = sep_id
        self.pool = MaskedMeanPooling(name="pooling")
        self.drop = keras.layers.Dropout(dropout, name="dropout")
        self.classifier = keras.layers.Dense(num_labels, activation=output_activation(num_labels), dtype="float32",
                                             name="classifier")
        pooler = unused_pooler(encoder)
        if pooler is not None:
            pooler.trainable = False

    def call(self, inputs, training=False):
        ids, mask = inputs["ids"], inputs["mask"]
        types = {} if self.sep_id is None else {"token_type_ids": segment_ids(ids, self.sep_id)}
        tokens = self.encoder(input_ids=ids, attention_mask=mask, training=training, **types).last_hidden_state
        pooled = self.pool(tokens, mask=mask) if self.pooling == "mean" else tokens[:, 0]
        return self.classifier(self.drop(pooled, training=training))

    def get_config(self) -> dict:
        return {"encoder_config": self.encoder.config.to_dict(), "num_labels": self.num_labels,
                "pooling": self.pooling, "dropout": self.dropout, "sep_id": self.sep_id, "name": self.name}

    @classmethod
    def from_config(cls, config):
        """A model of the same shape with a randomly initialised encoder (load weights into it)."""
        from minion_tf.backbones import encoder_from_dict

        config = dict(config)
        return cls(encoder_from_dict(config.pop("encoder_config")), **config)

    def build_from_config(self, config):
        """Build a loaded model (`keras.models.load_model`) on int32 ids: Keras' default float
        placeholders cannot index the encoder's embedding table."""
        build_classifier(self)


def unused_pooler(encoder):
    """The encoder's own pooler layer (BERT/RoBERTa `main_layer.pooler`), or None."""
    main = getattr(encoder, encoder.base_model_prefix, None) if hasattr(encoder, "base_model_prefix") else None
    return getattr(main, "pooler", None)


def build_classifier(model: EncoderClassifier, max_length: int = 8) -> EncoderClassifier:
    """Create every weight by calling the model once on a dummy batch (before loading or restoring)."""
    ones = tf.ones((1, max_length), tf.int32)
    model({"ids": ones, "mask": ones}, training=False)
    return model

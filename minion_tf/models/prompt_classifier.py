"""Prompt tuning (Lester et al., the UCSD report's 20 soft tokens): trained vectors before a frozen encoder.

The token ids are looked up in the encoder's own word-embedding table, `prompt_length` trained
vectors (d each) are put in front, and the sequence enters the frozen encoder through
`inputs_embeds` (position and token-type embeddings and the LayerNorm are then added by the
encoder itself); the attention mask gets ones for the prompt. A masked mean over prompt and
real tokens (or the first prompt position, "cls") feeds a Dense softmax head. Trainable:
prompt_length * d + head.

Example:
    >>> model = PromptClassifier(backbone.encoder, prompt_length=20, max_length=64, num_labels=2)
    >>> model({"ids": ids, "mask": mask}).shape      # (B, 2) probabilities
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from minion_tf.backbones import segment_ids
from minion_tf.errors import MinionError
from minion_tf.layers.masked_mean_pooling import POOLINGS, MaskedMeanPooling
from minion_tf.models.side_tuning import output_activation


def max_positions(config) -> int:
    """Longest input in tokens (RoBERTa reserves two positions for padding offsets)."""
    from minion_tf.backbones import Backbone

    return Backbone(name="", encoder=None, tokenizer=None, config=config).max_positions


@keras.saving.register_keras_serializable(package="minion_tf")
class PromptClassifier(keras.Model):
    """Soft prompt + frozen encoder + pooling + Dense softmax; inputs `{"ids", "mask"}` (B, T) int32.

    `max_length` is the longest token input it will get: prompt_length + max_length must fit
    the encoder's positions. `sep_id` as in `EncoderClassifier` (the prompt is in segment 0).
    """

    def __init__(self, encoder, prompt_length: int = 20, max_length: int = 128, num_labels: int = 2,
                 pooling: str = "mean", sep_id: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(prompt_length, int) or prompt_length < 1:
            raise MinionError(f"PromptClassifier: prompt length must be an integer >= 1, got {prompt_length!r}")
        limit = max_positions(encoder.config)
        if prompt_length + max_length > limit:
            raise MinionError(f"prompt length {prompt_length} + max length {max_length} exceeds the encoder's "
                              f"{limit} positions: shorten --prompt-length or --max-length")
        if not isinstance(num_labels, int) or num_labels < 1:
            raise MinionError(f"PromptClassifier: num_labels must be an integer >= 1 (1: regression), got {num_labels!r}")
        if pooling not in POOLINGS:
            raise MinionError(f"PromptClassifier: pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.encoder = encoder
        self.encoder.trainable = False
        self.prompt_length = prompt_length
        self.max_length = max_length
        self.num_labels = num_labels
        self.pooling = pooling
        self.sep_id = sep_id
        width = int(encoder.config.hidden_size)
        self.prompt = self.add_weight(
            name="prompt", shape=(prompt_length, width), trainable=True,
            initializer=keras.initializers.TruncatedNormal(stddev=float(encoder.config.initializer_range)))
        self.pool = MaskedMeanPooling(name="pooling")
        self.classifier = keras.layers.Dense(num_labels, activation=output_activation(num_labels), dtype="float32",
                                             name="classifier")

    def call(self, inputs, training=False):
        ids, mask = inputs["ids"], tf.cast(inputs["mask"], tf.int32)
        batch = tf.shape(ids)[0]
        tokens = tf.gather(self.encoder.get_input_embeddings().weight, ids)
        prompt = tf.tile(tf.cast(self.prompt, tokens.dtype)[tf.newaxis], [batch, 1, 1])
        mask = tf.concat([tf.ones([batch, self.prompt_length], tf.int32), mask], axis=1)
        # transformers' TF models take a dict as their first (keras) argument: ids are left out
        features = {"inputs_embeds": tf.concat([prompt, tokens], axis=1), "attention_mask": mask}
        if self.sep_id is not None:  # the prompt is in the first segment
            features["token_type_ids"] = tf.concat([tf.zeros([batch, self.prompt_length], tf.int32),
                                                    segment_ids(ids, self.sep_id)], axis=1)
        states = self.encoder(features, training=training).last_hidden_state
        pooled = self.pool(states, mask=mask) if self.pooling == "mean" else states[:, 0]
        return self.classifier(pooled)

    def get_config(self) -> dict:
        return {"encoder_config": self.encoder.config.to_dict(), "prompt_length": self.prompt_length,
                "max_length": self.max_length, "num_labels": self.num_labels, "pooling": self.pooling,
                "sep_id": self.sep_id, "name": self.name}

    @classmethod
    def from_config(cls, config):
        """A model of the same shape with a randomly initialised encoder (load weights into it)."""
        from minion_tf.backbones import encoder_from_dict

        config = dict(config)
        return cls(encoder_from_dict(config.pop("encoder_config")), **config)

    def build_from_config(self, config):
        """Build a loaded model (`keras.models.load_model`) on int32 ids: Keras' default float
        placeholders cannot index the encoder's embedding table."""
        ones = tf.ones((1, 1), tf.int32)
        self({"ids": ones, "mask": ones}, training=False)

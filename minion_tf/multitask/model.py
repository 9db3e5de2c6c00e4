"""The multi-task minBERT model: one shared encoder, heads for SST, paraphrase and STS.

Every task output is computed from word embeddings (`embeddings` then `from_embeddings`),
so SMART can perturb them; `outputs` chains the two. Features are dicts of int32 arrays:
`ids`, `mask`, `types` for one (possibly joint "[CLS] a [SEP] b [SEP]") input, and
`ids_a`, `mask_a`, `ids_b`, `mask_b` for the two sentences of a pair encoded separately
(the siamese STS heads and KL consistency).

Example:
    >>> model = MultitaskBert(backbone.encoder, sts_head="cosine")
    >>> model.task_output("sst", {"ids": ids, "mask": mask, "types": 0 * ids})   # (B, 5) logits
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from minion_tf.backbones import encoder_from_dict, has_segments
from minion_tf.errors import MinionError
from minion_tf.layers.cosine_similarity_head import CosineSimilarityHead
from minion_tf.layers.task_head import TaskHead

TASKS = ("sst", "para", "sts")
STS_HEADS = ("mlp", "cosine", "uvcos")


def cfimdb_logits(sst_logits):
    """Two-class CFIMDB logits from the five SST logits: neg = l0+l1+l2, pos = l2+l3+l4.

    As specified, l2 counts on both sides; it therefore cancels in the two-class softmax
    (pos - neg = l3 + l4 - l0 - l1).
    """
    neg = tf.reduce_sum(sst_logits[:, 0:3], axis=-1)
    pos = tf.reduce_sum(sst_logits[:, 2:5], axis=-1)
    return tf.stack([neg, pos], axis=-1)


@keras.saving.register_keras_serializable(package="minion_tf")
class MultitaskBert(keras.Model):
    """A transformers TF encoder shared by three heads (`TaskHead`, or `CosineSimilarityHead` for STS).

    `sts_head`: "mlp" (joint pair input, like the other tasks), "cosine" or "uvcos" (siamese).
    Head sizes default to the encoder's: hidden units d, attention heads, FFN width.
    `get_config` holds the encoder's config; `from_config` builds the model around a randomly
    initialised encoder (load the weights into it, or let `keras.models.load_model` do so).
    """

    def __init__(self, encoder, sts_head: str = "mlp", pooling: str = "mean", head_dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if sts_head not in STS_HEADS:
            raise MinionError(f"sts_head must be one of {STS_HEADS}, got {sts_head!r}")
        config = encoder.config
        sizes = {"hidden_units": int(config.hidden_size), "num_heads": int(config.num_attention_heads),
                 "ffn_dim": int(config.intermediate_size), "dropout": head_dropout, "pooling": pooling}
        self.encoder = encoder
        self.sts_mode = sts_head
        self.pooling = pooling
        self.head_dropout = head_dropout
        self.use_types = has_segments(config)
        self.sst_head = TaskHead(5, name="sst_head", **sizes)
        self.para_head = TaskHead(1, name="para_head", **sizes)
        self.sts_head = (TaskHead(1, name="sts_head", **sizes) if sts_head == "mlp"
                         else CosineSimilarityHead(sts_head, name="sts_head", **sizes))

    @property
    def siamese_sts(self) -> bool:
        return self.sts_mode != "mlp"

    def heads(self) -> dict:
        return {"sst": self.sst_head, "para": self.para_head, "sts": self.sts_head}

    def input_sides(self, task: str) -> tuple[str, ...]:
        """Suffixes of the id/mask keys a task reads: ("",) for one input, ("_a", "_b") for a pair."""
        return ("_a", "_b") if task == "sts" and self.siamese_sts else ("",)

    def embeddings(self, task: str, feats: dict) -> list:
        """Word embeddings of each input the task reads (what SMART perturbs)."""
        table = self.encoder.get_input_embeddings().weight
        return [tf.gather(table, feats["ids" + side]) for side in self.input_sides(task)]

    def encode(self, embeds, mask, types=None, training=None):
        """(token states (B, T, d), pooler output (B, d)) of one input given its word embeddings."""
        kwargs = {"token_type_ids": types} if types is not None and self.use_types else {}
        out = self.encoder(input_ids=None, inputs_embeds=embeds, attention_mask=mask, training=training, **kwargs)
        pooled = getattr(out, "pooler_output", None)
        return out.last_hidden_state, out.last_hidden_state[:, 0] if pooled is None else pooled

    def sst_logits(self, embeds, mask, types=None, training=None):
        sequence, pooled = self.encode(embeds, mask, types, training)
        return self.sst_head({"sequence": sequence, "mask": mask, "pooled": pooled}, training=training)

    def from_embeddings(self, task: str, feats: dict, embeds: list, training=None):
        """Task output from word embeddings: SST (B, 5) and CFIMDB (B, 2) logits, paraphrase (B,)
        logit, STS (B,) raw score (clamp with `clamp_sts` to predict)."""
        if task == "sts" and self.siamese_sts:
            (seq_a, _), (seq_b, _) = (self.encode(e, feats["mask" + s], None, training)
                                      for e, s in zip(embeds, ("_a", "_b")))
            inputs = {"sequence_a": seq_a, "mask_a": feats["mask_a"], "sequence_b": seq_b, "mask_b": feats["mask_b"]}
            return self.sts_head(inputs, training=training)[:, 0]
        mask, types = feats["mask"], feats.get("types")
        if task in ("sst", "cfimdb"):
            logits = self.sst_logits(embeds[0], mask, types, training)
            return cfimdb_logits(logits) if task == "cfimdb" else logits
        sequence, pooled = self.encode(embeds[0], mask, types, training)
        head = self.para_head if task == "para" else self.sts_head
        return head({"sequence": sequence, "mask": mask, "pooled": pooled}, training=training)[:, 0]

    def task_output(self, task: str, feats: dict, training=None):
        return self.from_embeddings(task, feats, self.embeddings(task, feats), training)

    def call(self, feats, training=None):
        """All three outputs of one feature dict holding every key (used to build the weights)."""
        return {task: self.task_output(task, feats, training) for task in TASKS}

    def get_config(self) -> dict:
        return {"encoder_config": self.encoder.config.to_dict(), "sts_head": self.sts_mode,
                "pooling": self.pooling, "head_dropout": self.head_dropout, "name": self.name}

    @classmethod
    def from_config(cls, config):
        """A model of the same shape with a randomly initialised encoder (load weights into it)."""
        config = dict(config)
        return cls(encoder_from_dict(config.pop("encoder_config")), **config)

    def build_from_config(self, config):
        """Build a loaded model (`keras.models.load_model`) on int32 features of every key: Keras'
        default float placeholders cannot index the encoder's embedding table."""
        build_multitask(self)


def build_multitask(model: MultitaskBert, length: int = 3) -> MultitaskBert:
    """Create every weight (encoder and all three heads) by calling the model once on a dummy batch."""
    ones = tf.ones((1, length), tf.int32)
    model({"ids": ones, "mask": ones, "types": 0 * ones, "ids_a": ones, "mask_a": ones, "ids_b": ones,
           "mask_b": ones}, training=False)
    return model


def clamp_sts(scores):
    """STS predictions clamped to the label range 0..5."""
    return tf.clip_by_value(scores, 0.0, 5.0)

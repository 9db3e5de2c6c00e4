"""The random-weights provider (``--encoder random:NAME``): an encoder's architecture with seeded random weights.

What a run costs does not depend on the encoder's weights, so the paper's encoder can be measured
on a machine that has only its config: ``random:vinai/bertweet-base`` is the BERTweet-base
architecture from the config this package ships (12 layers, hidden 768, 134.9M parameters), its
weights drawn as transformers initialises them (truncated normal of ``initializer_range`` for
every randomly initialised variable; biases and layer norms as built) from a fixed seed, so every
load gives the same weights. ``NAME`` is anything the transformers-TF provider takes (``minilm``,
a shipped config's id, a local directory, a cached Hugging Face id); only its config is read.

The tokenizer is real: ``--tokenizer`` (e.g. ``../shared/data/bertweet_tokenizer``), else the
encoder folder's own when it is on this machine. A tokenizer with more ids than the encoder's
embeddings (the shared BERTweet JSON has 66,050; BERTweet-base's embeddings 64,001) has its extra
ids read as its unknown token, said once in a line when the encoder loads.

`identity()` says the weights are random (``"weights": "random(seed=0):..."``) and the backbone's
name keeps the prefix, so neither its caches nor its runs mix with the real encoder's.
Results of such runs measure cost, not accuracy.

Example:
    >>> bb = load_backbone("random:vinai/bertweet-base", "../shared/data/bertweet_tokenizer")
    >>> bb.hidden_states(*bb.batch(["good day"], max_length=32)).shape   # (1, 13, 5, 768)
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from minion_tf.backbones import transformers_tf
from minion_tf.backbones.transformers_tf import (Backbone, encoder_from_config, known_config_path, known_encoders,
                                                 load_config, load_tokenizer, resolve_encoder_dir,
                                                 tokenizer_size)
from minion_tf.errors import MinionError
from minion_tf.text_tokenizer import TextTokenizer

PREFIX = "random"
SEED = 0  # the weights of every `load`; `random` (counting only) leaves TensorFlow's draw


@dataclass
class RandomBackbone(Backbone):
    """A `Backbone` whose weights were drawn from `seed`; its identity says so."""

    seed: int | None = None

    def identity(self) -> dict:
        out = super().identity()
        out["weights"] = f"random(seed={self.seed}):{out['weights']}"
        return out


class ClampedTokenizer(TextTokenizer):
    """`tokenizer` with the ids its encoder has no embedding for (``>= vocab_size``) read as `unk_id`."""

    def __init__(self, tokenizer: TextTokenizer, vocab_size: int, unk_id: int):
        super().__init__(tokenizer.backend, tokenizer.name, f"{tokenizer.fingerprint}<{vocab_size}", tokenizer.pad_id)
        self.vocab_size, self.unk_id = int(vocab_size), int(unk_id)

    def encode(self, texts, max_length: int, pairs=None) -> list[np.ndarray]:
        return [np.where(ids < self.vocab_size, ids, self.unk_id).astype(np.int32)
                for ids in super().encode(texts, max_length, pairs=pairs)]


def _label(name: str | None) -> str:
    return f"{PREFIX}:{transformers_tf._label(name or None)}"


def _unk_id(tokenizer: TextTokenizer) -> int | None:
    backend = tokenizer.backend
    for token in ("<unk>", "[UNK]"):
        found = backend.token_to_id(token) if hasattr(backend, "token_to_id") else backend.convert_tokens_to_ids(token)
        if found is not None:
            return int(found)
    return getattr(backend, "unk_token_id", None)


def fit_tokenizer(tokenizer: TextTokenizer, vocab_size: int, label: str) -> TextTokenizer:
    """`tokenizer`, or (when it has more ids than the encoder's `vocab_size` embeddings) a `ClampedTokenizer`."""
    size = tokenizer_size(tokenizer)
    if size <= vocab_size:
        return tokenizer
    unk = _unk_id(tokenizer)
    if unk is None or unk >= vocab_size:
        raise MinionError(f"{label}: the tokenizer has {size:,} ids but the encoder {vocab_size:,} embeddings, "
                          "and no unknown token to read the others as; give a tokenizer of this encoder")
    print(f"{label}: the tokenizer has {size:,} ids, the encoder {vocab_size:,} embeddings: "
          f"ids from {vocab_size:,} are read as the unknown token ({unk})", flush=True)
    return ClampedTokenizer(tokenizer, vocab_size, unk)


def seed_weights(encoder, seed: int, stddev: float) -> None:
    """Redraw every variable of `encoder` that is not constant (the randomly initialised ones) from a
    truncated normal (|x| <= 2 stddev, as transformers' TF initialiser), each from TensorFlow's stateless
    generator seeded by `seed` and its name: the same weights on every load, whatever the random state."""
    import tensorflow as tf

    for var in encoder.weights:
        if var.shape.num_elements() < 2 or bool(tf.reduce_min(var) == tf.reduce_max(var)):
            continue  # zeros (biases), ones (layer norms): as built
        name = var.name.split("/", 1)[-1]  # without the instance's name prefix
        key = tf.constant([seed, zlib.crc32(name.encode())], tf.int64)
        var.assign(tf.random.stateless_truncated_normal(var.shape, seed=key, stddev=stddev, dtype=var.dtype))


def _config(name: str | None):
    check(name)
    return load_config(name or None)


def _tokenizer(name: str | None, tokenizer: str | None, config) -> TextTokenizer:
    label = _label(name)
    if tokenizer is None:
        try:
            directory = resolve_encoder_dir(name or None)
        except MinionError:
            raise MinionError(f"{label}: the weights are random but the tokenizer must be real, and no tokenizer of "
                              f"{transformers_tf._label(name or None)} is on this machine; pass --tokenizer "
                              "(e.g. ../shared/data/bertweet_tokenizer)") from None
        found = load_tokenizer(directory)
    else:
        found = load_tokenizer(None, tokenizer)
    return fit_tokenizer(found, int(config.vocab_size), label)


def load(name: str | None, tokenizer: str | None = None, trainable: bool = False) -> RandomBackbone:
    """The encoder of `name`'s config with the weights of `SEED`, and a real tokenizer (module docstring)."""
    config = _config(name)
    tok = _tokenizer(name, tokenizer, config)
    encoder = encoder_from_config(config)
    seed_weights(encoder, SEED, float(getattr(config, "initializer_range", 0.02)))
    encoder.trainable = trainable
    return RandomBackbone(name=_label(name), encoder=encoder, tokenizer=tok, config=config, seed=SEED)


def random(name: str | None) -> RandomBackbone:
    """The encoder built from its config (TensorFlow's random weights, no tokenizer): for counting parameters."""
    config = _config(name)
    return RandomBackbone(name=_label(name), encoder=encoder_from_config(config), tokenizer=None, config=config)


def canonical(name: str | None) -> str:
    """``random:`` and the transformers-TF canonical name (``minilm``, an absolute path, an id)."""
    return f"{PREFIX}:{transformers_tf.canonical_encoder(name or None)}"


def dims(name: str | None) -> dict:
    """Those of the real encoder: one architecture."""
    return transformers_tf.describe_dims(name or None)


def check(name: str | None) -> None:
    """One line unless the config of `name` is shipped or on this machine (weights are not needed)."""
    if name and known_config_path(name) is not None:
        return
    try:
        resolve_encoder_dir(name or None)
    except MinionError:
        raise MinionError(f"{PREFIX}:{name}: no config of {name!r} on this machine; {known_encoders()}") from None

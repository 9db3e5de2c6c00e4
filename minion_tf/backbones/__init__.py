"""Encoder providers: a tokenizer and every hidden state of a pretrained encoder, by name.

A name may start with a provider's prefix, ``PREFIX:rest``; a name without a known prefix goes
to the transformers-TF provider (`transformers_tf`: MiniLM, BERTweet, Hugging Face ids, local
directories). A provider is one module of this package that defines ``PREFIX`` and

- ``load(name, tokenizer, trainable)``: the encoder with its weights and tokenizer;
- ``random(name)``: the encoder with random weights and no tokenizer, for counting parameters;
- ``canonical(name)``: the name run keys hash (with its prefix);
- ``dims(name)``: ``{"model_dim", "num_states", "encoder_params"}``;
- ``check(name)``: one clear error if the encoder's files are not on this machine (loads nothing);

each given the part of the name after ``PREFIX:``. Adding a provider is adding its module: the
package finds it. Importing the package (and its providers) imports no framework.

Example:
    >>> bb = load_backbone()                  # MiniLM, frozen (transformers-TF)
    >>> ids, mask = bb.batch(["good day"], max_length=32)
    >>> bb.hidden_states(ids, mask).shape     # (1, 7, 4, 384): embeddings + 6 layers
    >>> canonical_encoder("sentence-transformers/all-MiniLM-L6-v2")   # 'minilm'
"""
from __future__ import annotations

import functools
import importlib
import pkgutil

from minion_tf.backbones import transformers_tf
from minion_tf.backbones.transformers_tf import (  # noqa: F401  (the public API, as before the package)
    DEFAULT_ENCODER,
    Backbone,
    encoder_from_config,
    encoder_from_dict,
    has_segments,
    known_config_path,
    known_encoders,
    load_config,
    minilm_dir,
    resolve_encoder_dir,
    segment_ids,
)


@functools.cache
def providers() -> dict:
    """{prefix: module} of the provider modules in this package (those that define ``PREFIX``)."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        prefix = getattr(module, "PREFIX", None)
        if prefix:
            found[prefix] = module
    return found


def _provider(name: str | None):
    """(provider module, the name it is given): a known ``PREFIX:`` picks its module, else transformers-TF."""
    if name and ":" in name:
        prefix, rest = name.split(":", 1)
        module = providers().get(prefix)
        if module is not None:
            return module, rest
    return transformers_tf, name


def load_backbone(name: str | None = None, tokenizer: str | None = None, trainable: bool = False):
    """Load an encoder and its tokenizer (frozen unless `trainable`).

    `tokenizer` overrides the tokenizer (a `tokenizers` JSON file or a directory), e.g. the
    BERTweet tokenizer in ``../shared/data/bertweet_tokenizer``.
    """
    module, rest = _provider(name)
    return module.load(rest, tokenizer, trainable)


def random_backbone(name: str | None = None):
    """The encoder with random weights built from its config, and ``tokenizer=None``: for counting parameters."""
    module, rest = _provider(name)
    return module.random(rest)


def canonical_encoder(name: str | None) -> str:
    """The name run keys hash: aliases made one (``"minilm"``), local directories absolute, ids as given.

    Loads no weights and imports no framework.
    """
    module, rest = _provider(name)
    return module.canonical(rest)


def describe_dims(name: str | None) -> dict:
    """Encoder width, number of states and parameter count from its config alone (random weights)."""
    module, rest = _provider(name)
    return module.dims(rest)


def check_encoder(name: str | None) -> None:
    """One clear error if the encoder's files are not on this machine (loads nothing)."""
    module, rest = _provider(name)
    module.check(rest)

"""What trains in the fine-tuning family: the one module that sets trainability of a classifier.

Each method takes an `EncoderClassifier` (a transformers TF BERT/RoBERTa encoder + Dense head),
sets what trains, and returns the list of variables its optimizer updates; `parameter_count` of
that list is the trainable count a run prints, and `expected_trainable` gives the same number
from the encoder's config alone (checked against each other in tests).

- `full_finetune`: every encoder weight + head (the encoder's pooler gets no gradient: frozen).
- `freeze_all_but_last_k(k)`: the last k transformer layers + head; embeddings and the first
  L - k layers are frozen (Pittsburgh report).
- `embeddings_only` / `encoder_only` (UCSD report, as read here): the embedding block (word,
  position and token-type tables + its LayerNorm) + head, or all transformer layers + head with
  the embedding block frozen.
- `bitfit`: the bias terms of the encoder + head (Ben Zaken et al.: every "bias" incl. the
  LayerNorm shifts, i.e. Keras' `beta`; the unused pooler's bias stays frozen). Keras sets
  trainability per layer, not per variable, so BitFit is a masked update: pass the optimizer
  through `restrict_optimizer`, which drops every other variable before Adam sees it, so
  neither the step nor Adam's moments can move a non-bias weight.

Example:
    >>> variables = bitfit(model)
    >>> model.compile(restrict_optimizer(keras.optimizers.Adam(1e-3), variables), "sparse_categorical_crossentropy")
    >>> parameter_count(variables) == expected_trainable("bitfit", model.encoder.config, num_labels=2)
    True
"""
from __future__ import annotations

import numpy as np

from minion_tf.errors import MinionError
from minion_tf.models.encoder_classifier import unused_pooler


def _main_layer(encoder):
    return getattr(encoder, encoder.base_model_prefix)


def _layers(encoder) -> list:
    return list(_main_layer(encoder).encoder.layer)


def _open_encoder(classifier):
    """Everything in the encoder trainable, except the pooler the classifier never uses."""
    classifier.encoder.trainable = True
    pooler = unused_pooler(classifier.encoder)
    if pooler is not None:
        pooler.trainable = False


def full_finetune(classifier) -> list:
    """Every encoder weight and the head train."""
    _open_encoder(classifier)
    return list(classifier.trainable_weights)


def freeze_all_but_last_k(classifier, k: int) -> list:
    """The last `k` transformer layers and the head train; embeddings and the first L - k are frozen."""
    layers = _layers(classifier.encoder)
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= len(layers):
        raise MinionError(f"--last-k must be an integer in 1..{len(layers)} (the encoder's layers), got {k!r}")
    _open_encoder(classifier)
    _main_layer(classifier.encoder).embeddings.trainable = False
    for layer in layers[: len(layers) - k]:
        layer.trainable = False
    return list(classifier.trainable_weights)


def embeddings_only(classifier) -> list:
    """The embedding block and the head train; every transformer layer is frozen."""
    _open_encoder(classifier)
    for layer in _layers(classifier.encoder):
        layer.trainable = False
    return list(classifier.trainable_weights)


def encoder_only(classifier) -> list:
    """Every transformer layer and the head train; the embedding block is frozen."""
    _open_encoder(classifier)
    _main_layer(classifier.encoder).embeddings.trainable = False
    return list(classifier.trainable_weights)


def is_bias(variable) -> bool:
    """A bias term: a Dense/attention `bias` or a LayerNorm shift `beta`."""
    return variable.name.split(":")[0].rsplit("/", 1)[-1] in ("bias", "beta")


def bitfit(classifier) -> list:
    """The encoder's bias terms and the head: the variables to give `restrict_optimizer`."""
    _open_encoder(classifier)
    head = {v.ref() for v in classifier.classifier.trainable_weights}
    return [v for v in classifier.trainable_weights if v.ref() in head or is_bias(v)]


def restrict_optimizer(optimizer, variables):
    """`optimizer`, changed to update only `variables`: others' gradients are dropped before it applies them.

    Works with the tf_keras optimizers `fit` calls through `minimize` -> `apply_gradients`;
    the optimizer builds its slots (Adam's moments) for the kept variables only.
    """
    keep = {v.ref() for v in variables}
    apply = optimizer.apply_gradients

    def apply_kept(grads_and_vars, *args, **kwargs):
        return apply([(g, v) for g, v in grads_and_vars if v.ref() in keep], *args, **kwargs)

    optimizer.apply_gradients = apply_kept
    return optimizer


def parameter_count(variables) -> int:
    """Number of scalars in `variables`."""
    return int(sum(np.prod(v.shape) for v in variables))


def block_sizes(config, num_labels: int) -> dict[str, int]:
    """Parameter counts of a BERT/RoBERTa encoder's blocks, from its config, and of the head.

    embeddings: (vocab + positions + token types) * d + LayerNorm 2d; one layer: Q, K, V, O
    (4 d^2 + 4 d) + FFN (2 d i + i + d) + two LayerNorms (4 d); its biases: 4 d + i + d + 2 d.
    """
    d, i = int(config.hidden_size), int(config.intermediate_size)
    tables = int(config.vocab_size) + int(config.max_position_embeddings) + int(config.type_vocab_size)
    return {"embeddings": tables * d + 2 * d, "layer": 4 * d * d + 2 * d * i + 9 * d + i,
            "layers": int(config.num_hidden_layers), "pooler": d * d + d, "embedding_biases": d,
            "layer_biases": 7 * d + i, "head": d * num_labels + num_labels, "width": d}


def expected_trainable(method: str, config, num_labels: int, k: int | None = None,
                       prompt_length: int | None = None) -> int:
    """The trainable parameter count of `method` on an encoder with `config`, by formula.

    Example:
        >>> expected_trainable("freeze", BertConfig(), num_labels=2, k=1)   # bert-base: one layer + head
        7089410
    """
    b = block_sizes(config, num_labels)
    counts = {"finetune": lambda: b["embeddings"] + b["layers"] * b["layer"],
              "freeze": lambda: (k or 0) * b["layer"],
              "bitfit": lambda: b["embedding_biases"] + b["layers"] * b["layer_biases"],
              "embeddings-only": lambda: b["embeddings"],
              "encoder-only": lambda: b["layers"] * b["layer"],
              "prompt": lambda: (prompt_length or 0) * b["width"]}
    if method not in counts:
        raise MinionError(f"unknown fine-tuning method {method!r}: known are {', '.join(counts)}")
    return counts[method]() + b["head"]

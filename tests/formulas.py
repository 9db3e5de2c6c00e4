"""Trainable parameter counts by formula, from an encoder's config: the tests hold the counts of the
built models (`Method.describe`, what a run prints) against these.

Example:
    >>> expected_trainable("freeze", BertConfig(), num_labels=2, k=1)   # bert-base: one layer + head
    7089410
"""
from minion_tf.errors import MinionError


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

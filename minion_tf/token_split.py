"""A tokenized split served as length-bucketed (ids, mask) batches, for models that run the encoder.

Example:
    >>> split = TokenSplit.from_texts(backbone.tokenizer, texts, labels, max_length=64)
    >>> ds = split.dataset(batch_size=256, seed=0)   # ({"ids", "mask"}, label) batches
"""
from __future__ import annotations

import numpy as np

from minion_tf.batching import batch_dataset, pad_batch


class TokenSplit:
    """Token ids of one split (unpadded) with labels; padding happens per batch.

    `max_length` and `fingerprint` (the tokenizer's) record how the ids were made, when known, so a
    hidden-state cache given these ids (`build_cache(..., tokens=split)`) can refuse others.
    """

    def __init__(self, seqs: list[np.ndarray], labels, pad_id: int, max_length: int | None = None,
                 fingerprint: str | None = None):
        self.seqs = seqs
        labels = np.asarray(labels)
        self.labels = labels if labels.dtype.kind == "f" else labels.astype(np.int64)  # regression scores stay float
        self.lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        self.pad_id = pad_id
        self.max_length, self.fingerprint = max_length, fingerprint

    @classmethod
    def from_texts(cls, tokenizer, texts, labels, max_length: int, pairs=None) -> "TokenSplit":
        return cls(tokenizer.encode(texts, max_length, pairs=pairs), labels, tokenizer.pad_id, max_length,
                   tokenizer.fingerprint)

    def __len__(self) -> int:
        return len(self.seqs)

    def dataset(self, batch_size: int, seed: int | None = None, with_rows: bool = False, first_epoch: int = 0):
        import tensorflow as tf

        x_spec = {"ids": tf.TensorSpec((None, None), tf.int32), "mask": tf.TensorSpec((None, None), tf.int32)}

        def fetch(rows):
            ids, mask = pad_batch([self.seqs[r] for r in rows], self.pad_id)
            return {"ids": ids, "mask": mask}

        return batch_dataset(fetch, self.lengths, self.labels, batch_size, x_spec, seed, with_rows,
                             first_epoch)

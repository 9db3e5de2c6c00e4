"""Tokenised minBERT tasks and their padded batches for the multi-task loop.

A single-sentence task (SST, CFIMDB) has one input. A pair task (paraphrase, STS) has the
joint input "[CLS] a [SEP] b [SEP]" with token types 0/1, and, when `separate` is set, the
two sentences tokenised on their own (keys `_a`, `_b`) for siamese heads and KL consistency.

Example:
    >>> feats = TaskFeatures.from_split(backbone, split, max_length=64, separate=True)
    >>> batch = feats.batch(np.arange(16))    # {"ids", "mask", "types", "ids_a", ..., "labels"}
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from minion_tf.batching import bucket_batches, pad_batch


def token_types(seqs, sep_id: int | None) -> list[np.ndarray]:
    """0 up to and including the first separator, 1 after it (all 0 without a separator id)."""
    out = []
    for seq in seqs:
        types = np.zeros(len(seq), dtype=np.int32)
        hits = np.flatnonzero(seq == sep_id) if sep_id is not None else []
        if len(hits):
            types[hits[0] + 1:] = 1
        out.append(types)
    return out


@dataclass
class TaskFeatures:
    """Unpadded token ids of one task's examples; `inputs` maps a key suffix to its sequences."""

    kind: str
    inputs: dict
    types: list | None
    labels: np.ndarray
    pad_id: int
    lengths: np.ndarray = field(init=False)

    def __post_init__(self):
        self.lengths = np.asarray([len(s) for s in self.inputs[""]], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_split(cls, backbone, split, max_length: int, separate: bool = False) -> "TaskFeatures":
        tok = backbone.tokenizer
        inputs = {"": tok.encode(split.texts_a, max_length, pairs=split.texts_b)}
        types = None
        if split.texts_b is not None:
            types = token_types(inputs[""], tok.sep_id)
            if separate:
                inputs["_a"] = tok.encode(split.texts_a, max_length)
                inputs["_b"] = tok.encode(split.texts_b, max_length)
        return cls(split.kind, inputs, types, split.labels, tok.pad_id)

    def batch(self, rows) -> dict:
        """Padded int32 arrays for `rows`, plus their labels."""
        out = {"labels": self.labels[rows]}
        for side, seqs in self.inputs.items():
            out["ids" + side], out["mask" + side] = pad_batch([seqs[r] for r in rows], self.pad_id)
        out["types"] = (np.zeros_like(out["ids"]) if self.types is None
                        else pad_batch([self.types[r] for r in rows], 0)[0])
        return out

    def plan(self, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """Length-bucketed batches covering every example once (shuffled when `rng` is given)."""
        return bucket_batches(self.lengths, batch_size, rng)


def cycling_batches(features: TaskFeatures, batch_size: int, rng: np.random.Generator):
    """Endless batches of one task: a fresh shuffled pass each time the previous one ends."""
    while True:
        for rows in features.plan(batch_size, rng):
            yield features.batch(rows)

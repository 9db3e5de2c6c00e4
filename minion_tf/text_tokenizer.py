"""One tokenizer interface over Hugging Face `tokenizers` files and transformers' tokenizers.

Example:
    >>> tok = TextTokenizer.from_file("model/tokenizer.json")
    >>> tok.encode(["good day", "bad day"], max_length=32)   # two int32 arrays, no padding
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError


class TextTokenizer:
    """Encodes texts (or text pairs) to unpadded id arrays, truncated to `max_length`.

    `fingerprint` identifies the vocabulary and rules, so a hidden-state cache can refuse
    states made by another tokenizer.
    """

    def __init__(self, backend, name: str, fingerprint: str, pad_id: int):
        self.backend = backend
        self.name = name
        self.fingerprint = fingerprint
        self.pad_id = int(pad_id)

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None) -> "TextTokenizer":
        """A `tokenizers` JSON file (fast, Rust); its built-in padding/truncation are switched off."""
        from tokenizers import Tokenizer

        path = Path(path)
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as err:  # tokenizers raises plain Exception subclasses
            raise MinionError(f"{path}: not a readable tokenizer file ({err})") from None
        tok.no_padding()
        tok.no_truncation()
        pad_id = tok.token_to_id("[PAD]")
        if pad_id is None:
            pad_id = tok.token_to_id("<pad>")
        fingerprint = hashlib.sha256(tok.to_str().encode()).hexdigest()[:16]
        return cls(tok, name or str(path), fingerprint, 0 if pad_id is None else pad_id)

    @classmethod
    def from_pretrained_dir(cls, directory: str | Path) -> "TextTokenizer":
        """A model directory: its `tokenizer.json` if present, else transformers' AutoTokenizer."""
        directory = Path(directory)
        if (directory / "tokenizer.json").is_file():
            return cls.from_file(directory / "tokenizer.json", name=str(directory))
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        except Exception as err:
            raise MinionError(f"{directory}: no usable tokenizer files ({type(err).__name__}: {err})") from None
        vocab = sorted(tok.get_vocab().items())
        digest = hashlib.sha256(repr((type(tok).__name__, vocab)).encode()).hexdigest()[:16]
        return cls(tok, str(directory), digest, tok.pad_token_id or 0)

    @property
    def sep_id(self) -> int | None:
        """The id of the separator between a pair's texts (`[SEP]`, or `</s>`), None if it has none."""
        for token in ("[SEP]", "</s>"):
            if hasattr(self.backend, "token_to_id"):
                found = self.backend.token_to_id(token)
            else:
                found = self.backend.convert_tokens_to_ids(token)
            if found is not None and found != getattr(self.backend, "unk_token_id", None):
                return int(found)
        return None

    def encode(self, texts, max_length: int, pairs=None) -> list[np.ndarray]:
        """Ids with special tokens, truncated to `max_length` (longest-first for pairs)."""
        if pairs is not None and len(pairs) != len(texts):
            raise MinionError(f"{len(texts)} texts but {len(pairs)} pair texts")
        inputs = list(texts) if pairs is None else list(zip(texts, pairs))
        if hasattr(self.backend, "encode_batch"):
            self.backend.enable_truncation(max_length=max_length)
            try:
                encodings = self.backend.encode_batch(inputs)
            finally:
                self.backend.no_truncation()
            return [np.asarray(e.ids, dtype=np.int32) for e in encodings]
        if pairs is None:
            out = self.backend(list(texts), truncation=True, max_length=max_length)
        else:
            out = self.backend(list(texts), list(pairs), truncation=True, max_length=max_length)
        return [np.asarray(ids, dtype=np.int32) for ids in out["input_ids"]]

"""Supervised fastText (bag of words, SGD): the paper's non-neural baseline.

`RuntimeError: Encountered NaN` (DESIGN.md) is not a divergence. fastText initialises its
input matrix in blocks of one tenth, one block per training thread
(`DenseMatrix::uniformThread`), so with fewer than 10 threads most rows are never
initialised; in this build (fasttext-numpy2 0.10.4) they hold whatever the allocator gives,
sometimes NaN. Seen here on 240 separable tweets (lr 0.1, 5 epochs, 20 seeds): 12 failures
with 1 thread, 18 with 2, 20 with 5, none with 10 or 12; calls that succeed with one thread
are bit-identical, and small vocabularies (reused heap, not fresh zeroed pages) fail most.
The fix here keeps training single-threaded and reproducible: every word of the training
file gets a starting vector, drawn as fastText intends (uniform in +-1/dim, from `seed`) and
passed as `pretrainedVectors`, so no row is left uninitialised.

Example:
    >>> model = train_fasttext(texts, labels, FastTextConfig(lr=0.1, epoch=5), work_dir)
    >>> predict_proba(model, ["what a great day"], num_labels=2)   # array([[0.03, 0.97]])
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError

LABEL = "__label__"
EOS = "</s>"  # fastText's end-of-line word, in every supervised vocabulary


@dataclass
class FastTextConfig:
    """fastText's supervised arguments that the baseline sets; the rest keep fastText's defaults."""

    lr: float = 0.1
    epoch: int = 5
    dim: int = 100
    word_ngrams: int = 1
    seed: int = 0

    def __post_init__(self):
        if not self.lr > 0:
            raise MinionError(f"fastText: lr must be positive, got {self.lr}")
        for name in ("epoch", "dim", "word_ngrams"):
            if int(getattr(self, name)) < 1:
                raise MinionError(f"fastText: {name} must be at least 1, got {getattr(self, name)}")

    def arguments(self) -> dict:
        return {"lr": self.lr, "epoch": self.epoch, "dim": self.dim, "wordNgrams": self.word_ngrams,
                "seed": self.seed, "thread": 1, "verbose": 0}


def one_line(text: str) -> str:
    """fastText reads one example a line, words split on whitespace (NUL included)."""
    return " ".join(text.replace("\0", " ").split())


def write_training_file(texts, labels, path: Path) -> set[str]:
    """`__label__<y> <text>` lines, fastText's supervised format; returns the words written."""
    words = {EOS}
    with open(path, "w", encoding="utf-8") as f:
        for text, label in zip(texts, labels):
            line = one_line(text)
            words.update(line.split(" "))
            f.write(f"{LABEL}{int(label)} {line}\n")
    words.discard("")
    return words


def write_start_vectors(words, dim: int, seed: int, path: Path) -> None:
    """A `.vec` file giving each word fastText's intended start: uniform in [-1/dim, 1/dim]."""
    words = sorted(words)
    vectors = np.random.default_rng(seed).uniform(-1.0 / dim, 1.0 / dim, size=(len(words), dim))
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{len(words)} {dim}\n")
        for word, row in zip(words, vectors):
            f.write(word + " " + " ".join(f"{v:.6g}" for v in row) + "\n")


def train_fasttext(texts, labels, config: FastTextConfig, work_dir: Path):
    """The trained model; its training and start-vector files live in a temporary folder of `work_dir`."""
    import fasttext

    tmp = Path(tempfile.mkdtemp(prefix="fasttext-", dir=work_dir))
    try:
        words = write_training_file(texts, labels, tmp / "train.txt")
        write_start_vectors(words, config.dim, config.seed, tmp / "start.vec")
        try:
            return fasttext.train_supervised(input=str(tmp / "train.txt"), pretrainedVectors=str(tmp / "start.vec"),
                                             **config.arguments())
        except RuntimeError as err:
            raise MinionError(f"fastText failed at lr {config.lr}: {err} (lower --lr if it diverged)") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def predict_proba(model, texts, num_labels: int) -> np.ndarray:
    """(n, num_labels) probabilities; labels fastText never saw in training get 0.

    fastText's own figures can exceed 1 a little (it adds 1e-5 inside its log); they are
    clipped to [0, 1] and each row rescaled to sum to 1.
    """
    labels, probs = model.predict([one_line(t) for t in texts], k=num_labels)
    out = np.zeros((len(texts), num_labels), dtype=np.float32)
    for row, (names, values) in enumerate(zip(labels, probs)):
        for name, value in zip(names, values):
            out[row, int(name[len(LABEL):])] = value
    out = np.clip(out, 0.0, 1.0)
    return out / np.maximum(out.sum(axis=1, keepdims=True), np.finfo(np.float32).tiny)


def count_params(model) -> int:
    """Input (one row per word) and output matrices: every one of them is trained."""
    return int(model.get_input_matrix().size + model.get_output_matrix().size)

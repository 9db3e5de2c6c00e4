"""The fine-tuning family's base: a model that reads token ids through the encoder, on any task.

`EncoderMethod` builds an `EncoderClassifier` (encoder, masked mean pooling, dropout, Dense
head); a method module says only which variables train (`select`) and, if it needs to, what
model to build (`make_model`): `finetune`, `freeze`, `bitfit`, `prompt`, `embeddings-only`,
`encoder-only`, `lora`. What a run saves is what trained: those variables, in `trained.npz`
(by their index in `model.weights`), with `trained_model.json` to rebuild the model around
them on the pretrained encoder.

Example:
    >>> class FineTune(EncoderMethod):
    ...     name = "finetune"
    ...     def select(self, run, model): return full_finetune(model)
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from minion_tf.backbones import load_backbone
from minion_tf.errors import MinionError
from minion_tf.io import temporary_path, write_json
from minion_tf.methods.base import Built, Feeds, KerasMethod
from minion_tf.methods.saved import read_saved
from minion_tf.models.predicting import encoder_predictor
from minion_tf.token_split import TokenSplit

WEIGHTS = "trained.npz"
MODEL_JSON = "trained_model.json"


class EncoderMethod(KerasMethod):
    """Encoder + head on token ids; subclasses choose the trained variables (`select`)."""

    trains_encoder = True
    kind = ("transformer", "fine-tuning")

    def default_lr(self) -> float:
        """The paper's rate for fine-tuning BERTweet (also the Pittsburgh report's first rate)."""
        return 2e-5

    def make_model(self, run, backbone, num_labels: int):
        from minion_tf.models.encoder_classifier import EncoderClassifier

        return EncoderClassifier(backbone.encoder, num_labels, sep_id=backbone.segment_sep_id)

    def select(self, run, model) -> list:
        """The variables that train (the default: all of the model's trainable ones)."""
        return list(model.trainable_weights)

    def build(self, run, backbone, spec) -> Built:
        import tensorflow as tf

        model = self.make_model(run, backbone, spec.num_labels)
        ones = tf.ones((1, 8), tf.int32)
        model({"ids": ones, "mask": ones}, training=False)
        return Built(model, model, self.select(run, model), int(model.count_params()))

    def feeds(self, run, data, backbone, run_dir: Path) -> Feeds:
        splits = {n: TokenSplit.from_texts(backbone.tokenizer, s.texts, s.labels, run.max_length, pairs=s.pairs)
                  for n, s in data.splits.items()}
        return Feeds(splits, details={"num_tokens": sum(int(t.lengths.sum()) for t in splits.values())})

    def save(self, run_dir: Path, built: Built, run, backbone, spec) -> None:
        """The trained variables (by index in `model.weights`), plus what rebuilding the model needs."""
        model, trained = built.model, {v.ref() for v in built.variables}
        arrays = {str(i): w.numpy() for i, w in enumerate(model.weights) if w.ref() in trained}
        with temporary_path(Path(run_dir) / WEIGHTS, sum(a.nbytes for a in arrays.values())) as tmp:
            np.savez(tmp, **arrays)
        write_json(Path(run_dir) / MODEL_JSON, {
            "model": self.name, "options": run.method_options(), "encoder": run.encoder, "tokenizer": run.tokenizer,
            "max_length": run.max_length, "num_labels": spec.num_labels, "num_weights": len(model.weights)})

    @classmethod
    def load_predictor(cls, run_dir: Path):
        """texts (and pairs) -> (n, outputs) predictions from a finished run's trained weights."""
        backbone, model, saved = load_trained(run_dir)
        return encoder_predictor(backbone, model, saved)


def transformer_layers(encoder) -> list:
    """The transformer layers of a transformers TF BERT/RoBERTa encoder, first to last."""
    return list(getattr(encoder, encoder.base_model_prefix).encoder.layer)


def embedding_block(encoder):
    """The word, position and token-type tables with their LayerNorm."""
    return getattr(encoder, encoder.base_model_prefix).embeddings


def encoder_weights(model) -> list:
    """Every encoder weight but those of its own pooler, which the classifier never uses."""
    from minion_tf.models.encoder_classifier import unused_pooler

    pooler = unused_pooler(model.encoder)
    skip = {w.ref() for w in pooler.weights} if pooler is not None else set()
    return [w for w in model.encoder.weights if w.ref() not in skip]


def head_weights(model) -> list:
    """The classifier head's weights."""
    return list(model.classifier.weights)


def load_trained(run_dir: Path):
    """(backbone, model with the trained weights on the pretrained encoder, saved config) of a finished run."""
    run_dir = Path(run_dir)
    saved, method = read_saved(run_dir, MODEL_JSON, "run of the fine-tuning family")
    backbone = load_backbone(saved["encoder"], saved["tokenizer"], trainable=True)  # as when saved
    run = SimpleNamespace(max_length=saved["max_length"], options=method.options)
    built = method.build(run, backbone, SimpleNamespace(num_labels=saved["num_labels"]))
    model = built.model
    if len(model.weights) != saved["num_weights"]:
        raise MinionError(f"{run_dir}: the rebuilt model has {len(model.weights)} weights, the saved one "
                          f"{saved['num_weights']}: another encoder?")
    with np.load(run_dir / WEIGHTS) as arrays:
        for key in arrays.files:
            model.weights[int(key)].assign(arrays[key])
    return backbone, model, saved

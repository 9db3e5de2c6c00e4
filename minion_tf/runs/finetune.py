"""Full fine-tuning as a run method (`--model finetune`), and the base of the whole fine-tuning family.

`EncoderMethod` runs a model that reads token ids through the encoder (an `EncoderClassifier`,
or a `PromptClassifier`), on any task; a subclass decides only which weights train
(`select`), in its own module: `freeze`, `bitfit`, `prompt`, `embeddings-only`,
`encoder-only`. Same splits, callbacks, per-epoch resume, early stopping and record as the
side models. What a run saves is what trained: the trained variables, in `trained.npz` (by
their index in `model.weights`), with `trained_model.json` to rebuild the model around them
on the pretrained encoder. A resumed run continues from the last finished epoch's weights
and optimizer state; the dropout masks after it differ from an uninterrupted run's.

Example:
    >>> run(RunConfig(model="finetune", max_examples=20000))   # lr 2e-5, Adam(0.9, 0.999)
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError
from minion_tf.runs.registry import register

WEIGHTS = "trained.npz"
MODEL_JSON = "trained_model.json"


class EncoderMethod:
    """Encoder + masked mean pooling + Dense head on token ids; `select` says which variables train."""

    #: name of the count in `models.trainability.expected_trainable`
    counted = "finetune"

    @staticmethod
    def default_lr(config) -> float:
        """The paper's rate for fine-tuning BERTweet (also the Pittsburgh report's first rate)."""
        return 2e-5

    def make_model(self, config, backbone, num_labels: int):
        from minion_tf.models.encoder_classifier import EncoderClassifier

        return EncoderClassifier(backbone.encoder, num_labels, sep_id=backbone.segment_sep_id)

    def select(self, config, model) -> list:
        """Set what trains; return the variables the optimizer updates."""
        from minion_tf.models.trainability import full_finetune

        return full_finetune(model)

    def describe(self, config) -> dict:
        from minion_tf.backbones import describe_dims, load_config
        from minion_tf.models.trainability import block_sizes, expected_trainable
        from minion_tf.runs.task_data import spec_of

        num_labels = spec_of(config).num_labels
        encoder_config = load_config(config.encoder)
        sizes = block_sizes(encoder_config, num_labels)
        extra = config.prompt_length * sizes["width"] if self.counted == "prompt" else 0
        trainable = expected_trainable(self.counted, encoder_config, num_labels, config.last_k, config.prompt_length)
        return {"trainable": trainable, "total": describe_dims(config.encoder)["encoder_params"] + sizes["head"] + extra}

    def build(self, config, backbone, num_labels: int):
        """(model with every weight created, the variables that train)."""
        import tensorflow as tf

        model = self.make_model(config, backbone, num_labels)
        ones = tf.ones((1, 8), tf.int32)
        model({"ids": ones, "mask": ones}, training=False)
        return model, self.select(config, model)

    def train(self, config, data, run_dir: Path, callbacks_for) -> dict:
        import tf_keras as keras

        from minion_tf.backbones import load_backbone
        from minion_tf.models.trainability import parameter_count, restrict_optimizer
        from minion_tf.runs.fitting import check_max_length, compile_for, fit_epochs, predict_tests, tokenize
        from minion_tf.runs.record import param_line

        backbone = load_backbone(config.encoder, config.tokenizer, trainable=True)
        check_max_length(config, backbone)
        keras.utils.set_random_seed(config.seed)
        model, variables = self.build(config, backbone, data.spec.num_labels)
        trainable, total = parameter_count(variables), int(model.count_params())
        print(param_line(trainable, total), flush=True)

        tokens = tokenize(backbone, data, config.max_length)
        optimizer = keras.optimizers.Adam(config.resolved_lr(), beta_1=0.9, beta_2=0.999)
        if {v.ref() for v in variables} != {v.ref() for v in model.trainable_variables}:
            optimizer = restrict_optimizer(optimizer, variables)
        compile_for(model, data.spec, optimizer)
        fit = fit_epochs(config, data.spec, run_dir, model, model, optimizer, tokens, callbacks_for, variables)
        start = time.perf_counter()
        test_probs = predict_tests(model, tokens, data, config.batch_size)
        timings = {"train_s": fit["train_s"], "test_s": time.perf_counter() - start}
        save_trained(run_dir, model, variables, config, data.spec.num_labels)
        return {"history": fit["history"], "best_epoch": fit["best_epoch"], "test_probs": test_probs,
                "timings": timings, "params": {"trainable": trainable, "total": total},
                "details": {"num_tokens": sum(int(t.lengths.sum()) for t in tokens.values())}}

    @staticmethod
    def load_predictor(run_dir: Path):
        """texts (and pairs) -> (n, outputs) predictions from a finished run's trained weights."""
        from minion_tf.runs.fitting import encoder_predictor

        backbone, model, saved = load_trained(run_dir)
        return encoder_predictor(backbone, model, saved)


@register("finetune")
class FineTune(EncoderMethod):
    """Every encoder weight and the head train (DESIGN.md, items 1, 3 and 4)."""


def save_trained(run_dir: Path, model, variables, config, num_labels: int) -> None:
    """The trained variables (by index in `model.weights`), plus what rebuilding the model needs."""
    from minion_tf.io import temporary_path, write_json

    trained = {v.ref() for v in variables}
    arrays = {str(i): w.numpy() for i, w in enumerate(model.weights) if w.ref() in trained}
    with temporary_path(run_dir / WEIGHTS, sum(a.nbytes for a in arrays.values())) as tmp:
        np.savez(tmp, **arrays)
    keys = ("model", "encoder", "tokenizer", "max_length", "last_k", "prompt_length")
    write_json(run_dir / MODEL_JSON, {**{k: getattr(config, k) for k in keys}, "num_labels": num_labels,
                                       "num_weights": len(model.weights)})


def load_trained(run_dir: Path):
    """(backbone, model with the trained weights on the pretrained encoder, saved config) of a finished run."""
    from minion_tf.backbones import load_backbone
    from minion_tf.runs.config import RunConfig
    from minion_tf.runs.registry import get_method

    run_dir = Path(run_dir)
    path = run_dir / MODEL_JSON
    if not path.is_file():
        raise MinionError(f"{run_dir}: no {MODEL_JSON} (not a finished run of the fine-tuning family)")
    saved = json.loads(path.read_text())
    config = RunConfig(model=saved["model"], encoder=saved["encoder"], tokenizer=saved["tokenizer"],
                       max_length=saved["max_length"], last_k=saved["last_k"], prompt_length=saved["prompt_length"])
    backbone = load_backbone(config.encoder, config.tokenizer, trainable=True)  # as when saved
    model, _ = get_method(config.model).build(config, backbone, saved["num_labels"])
    if len(model.weights) != saved["num_weights"]:
        raise MinionError(f"{run_dir}: the rebuilt model has {len(model.weights)} weights, the saved one "
                          f"{saved['num_weights']}: another encoder?")
    with np.load(run_dir / WEIGHTS) as arrays:
        for key in arrays.files:
            model.weights[int(key)].assign(arrays[key])
    return backbone, model, saved

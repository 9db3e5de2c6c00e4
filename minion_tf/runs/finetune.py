"""Full fine-tuning as a run method (`--model finetune`): every encoder weight and the head train.

Same splits, callbacks, per-epoch resume and record as the side models. What it saves is
what trained: the whole encoder and the head, in `finetune.weights.h5`, with
`finetune_model.json` to rebuild the model around them. A resumed run continues from the last
finished epoch's weights and optimizer state; the dropout masks after it differ from an
uninterrupted run's (the random generator's state is not checkpointed).

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

NUM_LABELS = 2
WEIGHTS = "finetune.weights.h5"
MODEL_JSON = "finetune_model.json"


@register("finetune")
class FineTune:
    """Encoder + masked mean pooling + Dense softmax; all of it trains (DESIGN.md, item 1 baseline)."""

    @staticmethod
    def default_lr(config) -> float:
        """The paper's rate for fine-tuning BERTweet."""
        return 2e-5

    def describe(self, config) -> dict:
        from minion_tf.backbones import describe_dims

        dims = describe_dims(config.encoder)
        head = dims["model_dim"] * NUM_LABELS + NUM_LABELS
        pooler = dims["model_dim"] * dims["model_dim"] + dims["model_dim"]  # unused, frozen
        total = dims["encoder_params"] + head
        return {"trainable": total - pooler, "total": total}

    def train(self, config, splits: dict, run_dir: Path, callbacks_for) -> dict:
        import tf_keras as keras

        from minion_tf.backbones import load_backbone
        from minion_tf.models.encoder_classifier import EncoderClassifier, build_classifier
        from minion_tf.runs.record import param_line
        from minion_tf.runs.resume import EpochCheckpoint, restore_progress
        from minion_tf.runs.side_tuning import predict_ordered
        from minion_tf.token_split import TokenSplit

        backbone = load_backbone(config.encoder, config.tokenizer, trainable=True)
        if config.max_length > backbone.max_positions:
            raise MinionError(f"--max-length {config.max_length} exceeds {backbone.name}'s "
                              f"{backbone.max_positions} positions")
        keras.utils.set_random_seed(config.seed)
        model = build_classifier(EncoderClassifier(backbone.encoder, NUM_LABELS))
        trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        total = int(model.count_params())
        print(param_line(trainable, total), flush=True)

        tokens = {n: TokenSplit.from_texts(backbone.tokenizer, *splits[n], config.max_length) for n in splits}
        optimizer = keras.optimizers.Adam(config.resolved_lr(), beta_1=0.9, beta_2=0.999)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        optimizer.build(model.trainable_variables)  # slots exist before a restore fills them
        trackables = {"model": model, "optimizer": optimizer}
        first_epoch, past = restore_progress(run_dir / "progress", trackables)
        if first_epoch:
            print(f"resuming {run_dir} after epoch {first_epoch}", flush=True)
        train = tokens["train"].dataset(config.batch_size, seed=config.seed, first_epoch=first_epoch)
        val = tokens["val"].dataset(config.batch_size)
        checkpoint = EpochCheckpoint(run_dir / "progress", trackables, past)
        start = time.perf_counter()
        model.fit(train, validation_data=val, epochs=config.epochs, initial_epoch=first_epoch, verbose=2,
                  callbacks=[*callbacks_for(val), checkpoint])
        timings = {"train_s": time.perf_counter() - start}
        start = time.perf_counter()
        test_probs = predict_ordered(model, tokens["test"].dataset(config.batch_size, with_rows=True),
                                     len(splits["test"][0]))
        timings["test_s"] = time.perf_counter() - start
        save_finetuned(run_dir, model, config, backbone)
        return {"history": checkpoint.history, "test_probs": test_probs, "timings": timings,
                "params": {"trainable": trainable, "total": total},
                "details": {"num_tokens": sum(int(t.lengths.sum()) for t in tokens.values())}}

    @staticmethod
    def load_predictor(run_dir: Path):
        """texts -> (n, 2) probabilities from a finished run's saved encoder and head."""
        from minion_tf.runs.side_tuning import predict_ordered
        from minion_tf.token_split import TokenSplit

        backbone, model, saved = load_finetuned(run_dir)

        def predict(texts) -> np.ndarray:
            split = TokenSplit.from_texts(backbone.tokenizer, list(texts), np.zeros(len(texts)), saved["max_length"])
            return predict_ordered(model, split.dataset(256, with_rows=True), len(texts), saved["num_labels"])

        return predict


def save_finetuned(run_dir: Path, model, config, backbone) -> None:
    """Every weight (encoder and head), plus what rebuilding the model needs."""
    from minion_tf.cache import write_json_atomic

    tmp = run_dir / "finetune.tmp.weights.h5"  # the .weights.h5 suffix picks the same format on load
    model.save_weights(str(tmp))
    tmp.replace(run_dir / WEIGHTS)
    write_json_atomic(run_dir / MODEL_JSON, {
        "num_labels": model.num_labels, "pooling": model.pooling, "dropout": model.dropout,
        "max_length": config.max_length, "encoder": config.encoder, "tokenizer": config.tokenizer})


def load_finetuned(run_dir: Path):
    """(backbone, model with the saved weights, saved config) of a finished fine-tuning run."""
    from minion_tf.backbones import load_backbone
    from minion_tf.models.encoder_classifier import EncoderClassifier, build_classifier

    run_dir = Path(run_dir)
    path = run_dir / MODEL_JSON
    if not path.is_file():
        raise MinionError(f"{run_dir}: no {MODEL_JSON} (not a finished finetune run)")
    saved = json.loads(path.read_text())
    backbone = load_backbone(saved["encoder"], saved["tokenizer"], trainable=True)  # as when saved
    model = build_classifier(EncoderClassifier(backbone.encoder, saved["num_labels"], saved["pooling"],
                                               saved["dropout"]))
    model.load_weights(str(run_dir / WEIGHTS))
    return backbone, model, saved

"""READ and MINION side-tuning runs: frozen encoder, cached (or streamed) states, a small trainable net."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from minion_tf.cache import build_cache, data_digest, estimate_bytes
from minion_tf.errors import MinionError
from minion_tf.runs.registry import register

NUM_LABELS = 2


def cache_root(config) -> Path:
    return Path(config.cache_dir) if config.cache_dir else Path(config.out) / "cache"


def split_cache_dir(config, backbone, name: str, texts, labels) -> Path:
    """One directory per encoder name, max length, split and data; a mismatching spec inside
    (other weights or tokenizer under the same name) is refused by the cache."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", backbone.name.rstrip("/").split("/")[-1])
    return cache_root(config) / f"{slug}-L{config.max_length}" / f"{name}-{data_digest(texts, labels)}"


def predict_ordered(model, dataset, n: int, num_labels: int = NUM_LABELS) -> np.ndarray:
    """Probabilities in example order from a dataset built `with_rows`."""
    import tensorflow as tf

    predict = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    probs = np.zeros((n, num_labels), dtype=np.float32)
    for x, _, rows in dataset:
        probs[rows.numpy()] = predict(x).numpy()
    return probs


@register("read", "minion")
class SideTuning:
    """The paper's side networks over a frozen encoder (DESIGN.md, item 1)."""

    @staticmethod
    def default_lr(config) -> float:
        """The paper's rates: READ 1e-3; MINION-8 1e-3, MINION-64/256 3e-4 (1e-3 below h = 64)."""
        if config.model == "minion":
            return 1e-3 if config.hidden < 64 else 3e-4
        return 1e-3

    def build(self, config, num_states: int, model_dim: int):
        from minion_tf.models.side_tuning import build_side_model

        return build_side_model(config.model, config.hidden, num_states, model_dim, NUM_LABELS)

    def describe(self, config) -> dict:
        from minion_tf.backbones import describe_dims

        dims = describe_dims(config.encoder)
        side = self.build(config, dims["num_states"], dims["model_dim"])
        return {"trainable": int(side.count_params()), "total": int(side.count_params()) + dims["encoder_params"]}

    def train(self, config, splits: dict, run_dir: Path, callbacks_for) -> dict:
        """Train on splits {"train", "val", "test"}; save the side weights; return the record's parts."""
        import tf_keras as keras

        from minion_tf.backbones import load_backbone
        from minion_tf.models.streaming import StreamingSideModel
        from minion_tf.runs.record import param_line
        from minion_tf.runs.resume import EpochCheckpoint, restore_progress
        from minion_tf.token_split import TokenSplit

        backbone = load_backbone(config.encoder, config.tokenizer)
        if config.max_length > backbone.max_positions:
            raise MinionError(f"--max-length {config.max_length} exceeds {backbone.name}'s "
                              f"{backbone.max_positions} positions")
        keras.utils.set_random_seed(config.seed)
        side = self.build(config, backbone.num_states, backbone.model_dim)
        trainable = int(sum(np.prod(w.shape) for w in side.trainable_weights))
        total = trainable + int(backbone.encoder.count_params())
        print(param_line(trainable, total), flush=True)

        tokens = {n: TokenSplit.from_texts(backbone.tokenizer, *splits[n], config.max_length) for n in splits}
        num_tokens = sum(int(t.lengths.sum()) for t in tokens.values())
        estimate = estimate_bytes(num_tokens, backbone.num_states, backbone.model_dim)
        streaming = config.no_cache or estimate > config.cache_budget_gb * 2**30
        timings = {}
        if streaming:
            why = "--no-cache" if config.no_cache else f"estimated cache {estimate / 2**30:.1f} GiB > budget"
            print(f"streaming states from the encoder ({why})", flush=True)
            feeds = tokens
            model = StreamingSideModel(backbone, side)
        else:
            start = time.perf_counter()
            feeds = {n: build_cache(backbone, *splits[n], split_cache_dir(config, backbone, n, *splits[n]),
                                    config.max_length) for n in splits}
            timings["cache_s"] = time.perf_counter() - start
            model = side
        optimizer = keras.optimizers.Adam(config.resolved_lr(), beta_1=0.9, beta_2=0.999)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        # Build the optimizer's slots before restoring, so a resumed run continues exactly.
        optimizer.build(side.trainable_variables)
        trackables = {"side": side, "optimizer": optimizer}
        first_epoch, past = restore_progress(run_dir / "progress", trackables)
        if first_epoch:
            print(f"resuming {run_dir} after epoch {first_epoch}", flush=True)
        train = feeds["train"].dataset(config.batch_size, seed=config.seed, first_epoch=first_epoch)
        val = feeds["val"].dataset(config.batch_size)
        checkpoint = EpochCheckpoint(run_dir / "progress", trackables, past)
        start = time.perf_counter()
        model.fit(train, validation_data=val, epochs=config.epochs, initial_epoch=first_epoch, verbose=2,
                  callbacks=[*callbacks_for(val), checkpoint])
        timings["train_s"] = time.perf_counter() - start
        start = time.perf_counter()
        test_probs = predict_ordered(model, feeds["test"].dataset(config.batch_size, with_rows=True),
                                     len(splits["test"][0]))
        timings["test_s"] = time.perf_counter() - start
        save_side(run_dir, side, config, backbone)
        return {"history": checkpoint.history, "test_probs": test_probs, "timings": timings,
                "params": {"trainable": trainable, "total": total},
                "details": {"streaming": streaming, "cache_estimate_bytes": estimate, "num_tokens": num_tokens}}

    @staticmethod
    def load_predictor(run_dir: Path):
        """texts -> (n, 2) probabilities: the saved side network on its frozen encoder."""
        from minion_tf.models.streaming import StreamingSideModel
        from minion_tf.token_split import TokenSplit

        backbone, side, saved = load_side(run_dir)
        model = StreamingSideModel(backbone, side)

        def predict(texts) -> np.ndarray:
            split = TokenSplit.from_texts(backbone.tokenizer, list(texts), np.zeros(len(texts)), saved["max_length"])
            return predict_ordered(model, split.dataset(256, with_rows=True), len(texts), saved["num_labels"])

        return predict


def save_side(run_dir: Path, side, config, backbone) -> None:
    """Only the trainable side network's weights, plus what rebuilding it needs."""
    from minion_tf.cache import write_json_atomic

    tmp = run_dir / "side.tmp.weights.h5"  # the .weights.h5 suffix picks the same format on load
    side.save_weights(str(tmp))
    tmp.replace(run_dir / "side.weights.h5")
    write_json_atomic(run_dir / "side_model.json", {
        "side": config.model, "hidden": config.hidden, "num_labels": NUM_LABELS,
        "num_states": backbone.num_states, "model_dim": backbone.model_dim, "max_length": config.max_length,
        "encoder": config.encoder, "tokenizer": config.tokenizer, "identity": backbone.identity()})


def load_side(run_dir: Path, backbone=None):
    """(backbone, side model, saved config) of a finished run; refuses another encoder's weights."""
    from minion_tf.backbones import load_backbone
    from minion_tf.models.side_tuning import build_side_model

    run_dir = Path(run_dir)
    path = run_dir / "side_model.json"
    if not path.is_file():
        raise MinionError(f"{run_dir}: no side_model.json (not a finished side-tuning run)")
    saved = json.loads(path.read_text())
    backbone = backbone or load_backbone(saved["encoder"], saved["tokenizer"])
    if backbone.identity() != saved["identity"]:
        raise MinionError(f"{run_dir}: side network was trained on another encoder or tokenizer "
                          f"({saved['identity']['encoder']})")
    side = build_side_model(saved["side"], saved["hidden"], saved["num_states"], saved["model_dim"],
                            saved["num_labels"])
    side.load_weights(str(run_dir / "side.weights.h5"))
    return backbone, side, saved

"""READ and MINION side-tuning runs: frozen encoder, cached (or streamed) states, a small trainable net."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from minion_tf.cache import build_cache, data_digest, estimate_bytes
from minion_tf.errors import MinionError
from minion_tf.io import check_free_space, temporary_path, write_json
from minion_tf.runs import ledger
from minion_tf.runs.registry import register

NUM_LABELS = 2


def cache_root(config) -> Path:
    return Path(config.cache_dir) if config.cache_dir else Path(config.out) / "cache"


def split_cache_dir(config, backbone, name: str, split) -> Path:
    """One directory per encoder name, max length, split and data; a mismatching spec inside
    (other weights or tokenizer under the same name) is refused by the cache."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", backbone.name.rstrip("/").split("/")[-1])
    return cache_root(config) / f"{slug}-L{config.max_length}" / f"{name}-{data_digest(*cache_key(split))}"


def check_cache_space(config, directories, estimate: int) -> None:
    """Refuse, in one line, a cache that would not fit on its disk (what is already cached counts)."""
    present = sum(f.stat().st_size for d in directories if d.is_dir() for f in d.iterdir()
                  if not f.name.startswith(".tmp-"))
    check_free_space(cache_root(config), estimate - present, "the hidden-state cache",
                     "free some space, put the cache on a larger disk (--cache-dir) or stream the states (--no-cache)")


def cache_key(split) -> tuple:
    """(texts, class ids or None, second texts or None): what a split's cache depends on."""
    return split.texts, (None if split.labels.dtype.kind == "f" else split.labels), split.pairs


class CachedSplit:
    """A split's cache served with the split's own labels (regression scores are not stored)."""

    def __init__(self, cache, labels):
        self.cache, self.labels = cache, labels

    def dataset(self, batch_size: int, **kwargs):
        return self.cache.dataset(batch_size, labels=self.labels, **kwargs)


@register("read", "minion")
class SideTuning:
    """The paper's side networks over a frozen encoder (DESIGN.md, item 1)."""

    @staticmethod
    def default_lr(config) -> float:
        """The paper's rates: READ 1e-3; MINION-8 1e-3, MINION-64/256 3e-4 (1e-3 below h = 64)."""
        if config.model == "minion":
            return 1e-3 if config.hidden < 64 else 3e-4
        return 1e-3

    def build(self, config, num_states: int, model_dim: int, num_labels: int = NUM_LABELS):
        from minion_tf.models.side_tuning import build_side_model

        return build_side_model(config.model, config.hidden, num_states, model_dim, num_labels)

    def describe(self, config) -> dict:
        from minion_tf.backbones import describe_dims
        from minion_tf.runs.task_data import spec_of

        dims = describe_dims(config.encoder)
        side = self.build(config, dims["num_states"], dims["model_dim"], spec_of(config).num_labels)
        return {"trainable": int(side.count_params()), "total": int(side.count_params()) + dims["encoder_params"]}

    def train(self, config, data, run_dir: Path, callbacks_for) -> dict:
        """Train on the run's splits; save the side weights; return the record's parts."""
        import tf_keras as keras

        from minion_tf.backbones import load_backbone
        from minion_tf.models.streaming import StreamingSideModel
        from minion_tf.runs.fitting import check_max_length, compile_for, fit_epochs, predict_tests, tokenize
        from minion_tf.runs.record import param_line

        backbone = load_backbone(config.encoder, config.tokenizer)
        check_max_length(config, backbone)
        keras.utils.set_random_seed(config.seed)
        side = self.build(config, backbone.num_states, backbone.model_dim, data.spec.num_labels)
        trainable = int(sum(np.prod(w.shape) for w in side.trainable_weights))
        total = trainable + int(backbone.encoder.count_params())
        print(param_line(trainable, total), flush=True)

        tokens = tokenize(backbone, data, config.max_length)
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
            dirs = {n: split_cache_dir(config, backbone, n, split) for n, split in data.splits.items()}
            check_cache_space(config, dirs.values(), estimate)
            start = time.perf_counter()
            feeds = {}
            for n, split in data.splits.items():
                texts, labels, pairs = cache_key(split)
                cache = build_cache(backbone, texts, labels, dirs[n], config.max_length, pairs=pairs)
                feeds[n] = CachedSplit(cache, split.labels)
            timings["cache_s"] = time.perf_counter() - start
            ledger.record(run_dir, {"cache_s": timings["cache_s"]})  # counted even if this process dies later
            model = side
        optimizer = keras.optimizers.Adam(config.resolved_lr(), beta_1=0.9, beta_2=0.999)
        compile_for(model, data.spec, optimizer)
        fit = fit_epochs(config, data.spec, run_dir, model, side, optimizer, feeds, callbacks_for)
        timings["train_s"] = fit["train_s"]
        start = time.perf_counter()
        test_probs = predict_tests(model, feeds, data, config.batch_size)
        timings["test_s"] = time.perf_counter() - start
        save_side(run_dir, side, config, backbone, data.spec.num_labels)
        return {"history": fit["history"], "best_epoch": fit["best_epoch"], "test_probs": test_probs,
                "timings": timings, "params": {"trainable": trainable, "total": total},
                "details": {"streaming": streaming, "cache_estimate_bytes": estimate, "num_tokens": num_tokens}}

    @staticmethod
    def load_predictor(run_dir: Path):
        """texts (and pairs) -> (n, outputs) predictions: the saved side network on its frozen encoder."""
        from minion_tf.models.streaming import StreamingSideModel
        from minion_tf.runs.fitting import encoder_predictor

        backbone, side, saved = load_side(run_dir)
        return encoder_predictor(backbone, StreamingSideModel(backbone, side), saved)


def save_side(run_dir: Path, side, config, backbone, num_labels: int = NUM_LABELS) -> None:
    """Only the trainable side network's weights, plus what rebuilding it needs."""
    with temporary_path(run_dir / "side.weights.h5") as tmp:  # keeps the .weights.h5 suffix: same format
        side.save_weights(str(tmp))
    write_json(run_dir / "side_model.json", {
        "side": config.model, "hidden": config.hidden, "num_labels": num_labels,
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

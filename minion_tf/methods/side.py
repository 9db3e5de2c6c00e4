"""The side networks' base: a frozen encoder's hidden states, cached (or streamed), read by a small
trainable network (READ, MINION, LST: each a module that says only which side model it builds).

The states of every split are cached once per encoder, max length and texts (`minion_tf.cache`;
the labels are the run's, so relabelled data reuses the cache; texts are tokenised once per run);
a cache larger than `--cache-budget-gb` (or `--no-cache`) streams them from the encoder instead,
rounded to float16 as the cache stores them. Training from the cache does not hold the encoder:
the runner frees it once the caches exist (`needs_encoder`). A run saves only the side network's
weights, with what rebuilding it needs, and refuses to load them onto another encoder.

Example:
    >>> class Minion(SideNetworkMethod):
    ...     name = "minion"
    ...     def side_model(self, num_states, model_dim, num_labels):
    ...         return build_side_model("minion", self.options.hidden, num_states, model_dim, num_labels)
"""
from __future__ import annotations

import re
import time
from abc import abstractmethod
from pathlib import Path

from minion_tf.backbones import load_backbone
from minion_tf.backbones.subset import state_view
from minion_tf.cache import build_cache, bytes_per_token, data_digest, estimate_bytes
from minion_tf.errors import MinionError
from minion_tf.io import check_free_space, free_bytes, size_text, temporary_path, write_json
from minion_tf.methods.base import Built, Feeds, KerasMethod, parameter_count
from minion_tf.methods.saved import read_saved
from minion_tf.models.predicting import encoder_predictor
from minion_tf.token_split import TokenSplit

SIDE_WEIGHTS = "side.weights.h5"
SIDE_JSON = "side_model.json"


class SideNetworkMethod(KerasMethod):
    """Frozen encoder -> hidden states (cache or stream) -> the side model, the only part that trains."""

    kind = ("transformer + side network", "side-tuning")

    @abstractmethod
    def side_model(self, num_states: int, model_dim: int, num_labels: int):
        """A tf_keras model `{"states": (B, S, T, d), "mask": (B, T)} -> (B, num_labels)` (all of it trains)."""

    def build(self, run, backbone, spec) -> Built:
        backbone = state_view(backbone, run.cache_layers)
        side = self.side_model(backbone.num_states, backbone.model_dim, spec.num_labels)
        return Built(side, side, list(side.trainable_weights), int(side.count_params()) + backbone.encoder.count_params())

    def feeds(self, run, data, backbone, run_dir: Path) -> Feeds:
        from minion_tf.models.streaming import StreamingSideModel

        backbone = state_view(backbone, run.cache_layers)
        tokens = {n: TokenSplit.from_texts(backbone.tokenizer, s.texts, s.labels, run.max_length, pairs=s.pairs)
                  for n, s in data.splits.items()}
        num_tokens = sum(int(t.lengths.sum()) for t in tokens.values())
        estimate = estimate_bytes(num_tokens, backbone.num_states, backbone.model_dim, run.cache_dtype)
        details = {"cache_estimate_bytes": estimate, "num_tokens": num_tokens}
        if run.no_cache or estimate > run.cache_budget_gb * 2**30:
            why = "--no-cache" if run.no_cache else f"estimated cache {estimate / 2**30:.1f} GiB > budget"
            print(f"streaming states from the encoder ({why})", flush=True)
            return Feeds(tokens, wrap=lambda side: StreamingSideModel(backbone, side),
                         details={**details, "streaming": True})
        dirs = {n: split_cache_dir(run, backbone, n, split) for n, split in data.splits.items()}
        root = cache_root(run)
        per_token = bytes_per_token(backbone.num_states, backbone.model_dim, run.cache_dtype)
        print(f"hidden-state cache ({run.cache_dtype}): {num_tokens:,} tokens x {per_token:,} bytes = "
              f"{size_text(estimate)} in {root} ({size_text(free_bytes(root))} free)", flush=True)
        check_cache_space(run, dirs.values(), estimate)
        start = time.perf_counter()
        worker = None
        if run.strategy == "multiworker" and run.cache_dir:  # a folder the workers share: each builds its part
            from minion_tf.distribute import worker_position

            worker = worker_position()
        splits = {n: CachedSplit(build_cache(backbone, split.texts, dirs[n], run.max_length, pairs=split.pairs,
                                             tokens=tokens[n], dtype=run.cache_dtype, worker=worker), split.labels)
                  for n, split in data.splits.items()}
        return Feeds(splits, details={**details, "streaming": False},
                     timings={"cache_s": time.perf_counter() - start})

    def describe(self, run, spec) -> dict:
        """The parameter counts, and the bytes a token takes in the hidden-state cache (printed)."""
        from minion_tf.backbones import random_backbone

        backbone = state_view(random_backbone(run.encoder), run.cache_layers)
        built = self.build(run, backbone, spec)
        per_token = bytes_per_token(backbone.num_states, backbone.model_dim, run.cache_dtype)
        layout = "x 2 bytes" if run.cache_dtype == "float16" else "int8, + 2 bytes of scale a state"
        print(f"hidden-state cache ({run.cache_dtype}): {per_token:,} bytes a token ({backbone.num_states} states x "
              f"{backbone.model_dim} {layout}); e.g. 1M texts of 25 tokens: {size_text(per_token * 25 * 10**6)}")
        return {"trainable": parameter_count(built.variables), "total": built.total}

    def needs_encoder(self, feeds: Feeds) -> bool:
        """Only to stream the states (`wrap` puts the encoder in front); the cached ones are read from disk."""
        return feeds.wrap is not None

    def save(self, run_dir: Path, built: Built, run, backbone, spec) -> None:
        """Only the side network's weights, plus what rebuilding it needs (the encoder itself may be gone)."""
        backbone = state_view(backbone, run.cache_layers)
        with temporary_path(Path(run_dir) / SIDE_WEIGHTS) as tmp:  # keeps the .weights.h5 suffix: same format
            built.trained.save_weights(str(tmp))
        write_json(Path(run_dir) / SIDE_JSON, {
            "model": self.name, "options": run.method_options(), "num_labels": spec.num_labels,
            "num_states": backbone.num_states, "model_dim": backbone.model_dim, "max_length": run.max_length,
            "encoder": run.encoder, "tokenizer": run.tokenizer, "cache_layers": run.cache_layers,
            "identity": backbone.identity()})

    @classmethod
    def load_predictor(cls, run_dir: Path):
        """texts (and pairs) -> (n, outputs) predictions: the saved side network on its frozen encoder."""
        from minion_tf.models.streaming import StreamingSideModel

        backbone, side, saved = load_side(run_dir)
        return encoder_predictor(backbone, StreamingSideModel(backbone, side), saved)


def load_side(run_dir: Path, backbone=None):
    """(backbone, side model, saved config) of a finished run; refuses another encoder's weights."""
    run_dir = Path(run_dir)
    saved, method = read_saved(run_dir, SIDE_JSON, "side-tuning run")
    backbone = state_view(backbone or load_backbone(saved["encoder"], saved["tokenizer"]), saved.get("cache_layers"))
    if backbone.identity() != saved["identity"]:
        raise MinionError(f"{run_dir}: side network was trained on another encoder or tokenizer "
                          f"({saved['identity']['encoder']})")
    side = method.side_model(saved["num_states"], saved["model_dim"], saved["num_labels"])
    side.load_weights(str(run_dir / SIDE_WEIGHTS))
    return backbone, side, saved


def cache_root(run) -> Path:
    return Path(run.cache_dir) if run.cache_dir else Path(run.out) / "cache"


def split_cache_dir(run, backbone, name: str, split) -> Path:
    """One directory per encoder name, max length, compute dtype, split and texts (not labels); a mismatching spec
    inside (other weights or tokenizer under the same name) is refused by the cache."""
    provider = backbone.name.split(":", 1)[0] + "-" if ":" in backbone.name else ""  # keras-hub: its own folder
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", provider + backbone.name.rstrip("/").split("/")[-1])
    precision = "" if backbone.precision() == "float32" else f"-{backbone.precision()}"  # mixed precision: its own
    stored = "" if run.cache_dtype == "float16" else f"-{run.cache_dtype}"  # an int8 cache: its own too
    kept = "" if run.cache_layers is None else f"-states{'.'.join(map(str, backbone.states))}"  # a subset too
    return (cache_root(run) / f"{slug}-L{run.max_length}{precision}{stored}{kept}"
            / f"{name}-{data_digest(split.texts, split.pairs)}")


def check_cache_space(run, directories, estimate: int) -> None:
    """Refuse, in one line, a cache that would not fit on its disk (what is already cached counts)."""
    present = sum(f.stat().st_size for d in directories if d.is_dir() for f in d.iterdir()
                  if not f.name.startswith(".tmp-"))
    check_free_space(cache_root(run), estimate - present, "the hidden-state cache",
                     "free some space, put the cache on a larger disk (--cache-dir), store it in int8 (--cache-dtype "
                     "int8, about half the bytes) or stream the states (--no-cache)")


class CachedSplit:
    """A split's cache served with the split's own labels (the cache holds none)."""

    def __init__(self, cache, labels):
        self.cache, self.labels = cache, labels

    def dataset(self, batch_size: int, **kwargs):
        return self.cache.dataset(batch_size, labels=self.labels, **kwargs)

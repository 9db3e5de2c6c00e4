"""The keras-hub provider (``--encoder keras-hub:NAME``): a frozen Keras 3 BERT from a Hugging Face folder.

``NAME`` is ``minilm`` (the packaged all-MiniLM-L6-v2, also the default), a local directory of a
Hugging Face BERT checkpoint (``config.json`` + ``model.safetensors``), or a Hugging Face id
already in the local cache; `keras_hub.models.BertBackbone.from_preset` reads it, offline.
Texts are tokenised by the package's own `TextTokenizer` from the folder's ``tokenizer.json``,
so token ids are those of the transformers-TF provider.

The encoder is a Keras 3 model: it can feed the hidden-state cache (READ, MINION, LST side
networks), but it cannot train inside the tf_keras models of the fine-tuning family (DESIGN.md),
so ``trainable=True`` is refused. keras-hub is imported only when an encoder is loaded.

Example:
    >>> bb = load_backbone("keras-hub:minilm")   # via minion_tf.backbones
    >>> bb.hidden_states(*bb.batch(["good day"], max_length=32)).shape   # (1, 7, 4, 384)
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from minion_tf.backbones import transformers_tf
from minion_tf.backbones.transformers_tf import Backbone, load_tokenizer, resolve_encoder_dir, segment_ids
from minion_tf.errors import MinionError

PREFIX = "keras-hub"


class FolderConfig(SimpleNamespace):
    """A Hugging Face ``config.json`` read as attributes (what `Backbone` reads of a transformers config)."""

    def to_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class KerasHubBackbone(Backbone):
    """A keras-hub ``BertBackbone`` with the `Backbone` interface; `hidden_states` gives (B, S, T, d)."""

    _all_states: object = field(default=None, init=False, repr=False, compare=False)

    def identity(self) -> dict:
        """What a cache of this encoder's states depends on (with the activation, which the weights do not show)."""
        out = super().identity()
        out["architecture"]["hidden_act"] = getattr(self.config, "hidden_act", "gelu")
        return out

    def weights_fingerprint(self) -> str:
        """A cheap digest of the weights: a strided sample of every variable (named by its path)."""
        import hashlib

        import numpy as np

        h = hashlib.sha256()
        for var in self.encoder.weights:
            values = np.asarray(var.numpy()).ravel()
            h.update(var.path.encode())
            h.update(values[:: max(1, values.size // 64)].astype(np.float32).tobytes())
        return h.hexdigest()[:16]

    def hidden_states(self, ids, mask, training: bool = False):
        """The embeddings' layer norm and every transformer layer, stacked on axis 1: (B, S, T, d), float32."""
        import tensorflow as tf

        self._require_encoder()
        if self._all_states is None:
            import keras

            bb = self.encoder
            outputs = [bb.get_layer("embeddings_layer_norm").output]
            outputs += [bb.get_layer(f"transformer_layer_{i}").output for i in range(bb.num_layers)]
            self._all_states = keras.Model(bb.input, outputs, name="all_hidden_states")
        ids = tf.convert_to_tensor(ids, tf.int32)
        sep_id = self.segment_sep_id
        types = tf.zeros_like(ids) if sep_id is None else segment_ids(ids, sep_id)
        states = self._all_states({"token_ids": ids, "padding_mask": tf.convert_to_tensor(mask, tf.int32),
                                   "segment_ids": types}, training=training)
        return tf.stack(states, axis=1)


def _keras_hub():
    """keras_hub, or one line saying how to install it."""
    try:
        import keras_hub
    except ImportError:
        raise MinionError("--encoder keras-hub:... needs keras-hub: pip install keras-hub -c constraints.txt "
                          "(it brings Keras 3; tensorflow 2.21 already has it)") from None
    return keras_hub


def _folder(name: str | None) -> tuple[Path, FolderConfig]:
    """The checkpoint folder of `name` and its config, refused in one line unless it is a BERT."""
    directory = resolve_encoder_dir(name or None)
    config = FolderConfig(**json.loads((directory / "config.json").read_text()))
    model_type = getattr(config, "model_type", None)
    if model_type != "bert":
        raise MinionError(f"{PREFIX}:{name}: the keras-hub provider loads BERT checkpoints (model_type 'bert'), "
                          f"not {model_type!r}; drop the {PREFIX}: prefix to use the transformers-TF provider")
    return directory, config


# keras-hub's BertBackbone always uses the tanh GELU; a checkpoint whose config says "gelu" was trained with
# the exact (erf) one. Measured on 64 tweets with MiniLM: tanh GELU differs from the transformers-TF states by
# up to 9.5e-3 (layer 5), the exact GELU by 5.6e-6.
_GELU = {"gelu": False, "gelu_new": True, "gelu_pytorch_tanh": True, "gelu_fast": True}  # name -> approximate


def _encoder(directory: Path, config: FolderConfig, load_weights: bool):
    """The frozen BertBackbone of `directory`, its feed-forward activation the one its config names."""
    act = getattr(config, "hidden_act", "gelu")
    if act not in _GELU:
        raise MinionError(f"{directory}: hidden_act {act!r} is not a GELU; the keras-hub BERT has only GELU")
    keras_hub = _keras_hub()
    import keras

    encoder = keras_hub.models.BertBackbone.from_preset(str(directory), load_weights=load_weights)
    for i in range(encoder.num_layers):
        dense = getattr(encoder.get_layer(f"transformer_layer_{i}"), "_feedforward_intermediate_dense", None)
        if dense is None:
            raise MinionError(f"keras-hub {keras_hub.__version__}: its TransformerEncoder has no "
                              "_feedforward_intermediate_dense; the tested version is in constraints.txt")
        dense.activation = functools.partial(keras.activations.gelu, approximate=_GELU[act])
    encoder.trainable = False
    return encoder


def _label(name: str | None) -> str:
    return f"{PREFIX}:{transformers_tf._label(name or None)}"


def load(name: str | None, tokenizer: str | None = None, trainable: bool = False) -> KerasHubBackbone:
    """The frozen encoder of `name` (see the module docstring) with its weights and tokenizer."""
    if trainable:
        raise MinionError(f"{PREFIX} encoders are frozen (Keras 3: they feed the cache of side networks); "
                          "fine-tuning methods need a transformers-TF encoder (drop the keras-hub: prefix)")
    directory, config = _folder(name)
    if not (directory / "model.safetensors").is_file():
        raise MinionError(f"{directory}: the keras-hub provider reads model.safetensors, and there is none")
    tok = load_tokenizer(directory, tokenizer)
    transformers_tf.check_tokenizer_fits(tok, tokenizer, config.vocab_size, _label(name))
    encoder = _encoder(directory, config, load_weights=True)
    return KerasHubBackbone(name=_label(name), encoder=encoder, tokenizer=tok, config=config)


def random(name: str | None) -> KerasHubBackbone:
    """The encoder built from its config.json alone (random weights, no tokenizer): for counting parameters."""
    directory, config = _folder(name)
    encoder = _encoder(directory, config, load_weights=False)
    return KerasHubBackbone(name=_label(name), encoder=encoder, tokenizer=None, config=config)


def canonical(name: str | None) -> str:
    """``keras-hub:`` and the transformers-TF canonical name (``minilm``, an absolute path, an id)."""
    return f"{PREFIX}:{transformers_tf.canonical_encoder(name or None)}"


def dims(name: str | None) -> dict:
    backbone = random(name)
    return {"model_dim": backbone.model_dim, "num_states": backbone.num_states,
            "encoder_params": int(backbone.encoder.count_params())}


def check(name: str | None) -> None:
    """One line if the folder is missing or not a BERT (reads config.json only; keras-hub is not imported)."""
    _folder(name)

"""The checks every layer and model of the package passes, in the style of keras-hub's `run_layer_test`.

`check_layer` and `check_model` each assert three things on fixed inputs:
- config: `from_config(get_config())` gives an equal config (compared as JSON, as files hold it);
- save/load: the layer held by a functional model (or the model itself), saved and reloaded,
  gives the same outputs (`atol`), and a freshly initialised copy does not (so the file really
  carried the weights). `save="keras"` writes a `.keras` file and loads it with
  `keras.models.load_model`; `save="weights"` writes `save_weights` and loads them into a
  `from_config` copy (for what runs store that way); pass both to check both;
- trainable parameters: their count equals `expected_trainable` when it is given.

Outputs are compared with `training=False`. Both return the object they built and checked.

Example:
    >>> check_layer(lambda: READ(4, 6), {"states": states, "mask": mask},
    ...             call=lambda layer, x: layer(x["states"], mask=x["mask"]), expected_trainable=318)
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

SAVE_MODES = ("keras", "weights")


def trainable_count(layer) -> int:
    """Number of trainable scalars of a layer or model."""
    return int(sum(np.prod(w.shape) for w in layer.trainable_weights))


def assert_outputs_close(actual, expected, atol: float = 1e-6, what: str = "outputs"):
    """Equal nested outputs (tensors, arrays, dicts of them) within `atol`."""
    tf.nest.assert_same_structure(actual, expected)
    for a, e in zip(tf.nest.flatten(actual), tf.nest.flatten(expected)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=0, atol=atol, err_msg=what)


def _differs(actual, expected, atol: float) -> bool:
    return any(not np.allclose(np.asarray(a), np.asarray(e), rtol=0, atol=atol)
               for a, e in zip(tf.nest.flatten(actual), tf.nest.flatten(expected)))


def as_saved(config: dict) -> dict:
    """A config as a `.keras` file holds it (JSON: tuples become lists)."""
    return json.loads(json.dumps(config))


def _modes(save) -> tuple[str, ...]:
    modes = (save,) if isinstance(save, str) else tuple(save)
    unknown = set(modes) - set(SAVE_MODES)
    assert not unknown, f"save modes are {SAVE_MODES}, got {sorted(unknown)}"
    return modes


def _check_config(obj):
    """`obj`'s config and a fresh `from_config` copy (unbuilt), after checking their configs agree."""
    config = obj.get_config()
    clone = type(obj).from_config(config)
    assert as_saved(clone.get_config()) == as_saved(config), \
        f"{type(obj).__name__}: from_config(get_config()) changed the config"
    return config, clone


def _functional(layer, inputs, call):
    """A functional model whose output is `call(layer, symbolic inputs)`, inputs shaped like `inputs`."""
    def symbolic(name, value):
        value = np.asarray(value)
        return keras.Input(shape=value.shape[1:], dtype=value.dtype, name=name)

    if isinstance(inputs, dict):
        symbols = {name: symbolic(name, value) for name, value in inputs.items()}
    else:
        symbols = symbolic("inputs", inputs)
    return keras.Model(symbols, call(layer, symbols))


def _reload(model, mode: str, rebuild):
    """`model` saved as a `.keras` file and loaded, or its `save_weights` loaded into `rebuild()`."""
    with tempfile.TemporaryDirectory() as directory:
        if mode == "keras":
            model.save(Path(directory) / "model.keras")
            return keras.models.load_model(Path(directory) / "model.keras")
        model.save_weights(str(Path(directory) / "model.weights.h5"))
        loaded = rebuild()
        loaded.load_weights(str(Path(directory) / "model.weights.h5"))
        return loaded


def padded(real, lengths, pad_to, seed):
    """`real` (B, S, T0, d) states cut to `lengths` and right-padded to `pad_to` with large garbage."""
    shape = real.shape[:2] + (pad_to,) + real.shape[3:]
    out = np.random.default_rng(seed).normal(scale=1e3, size=shape)
    mask = np.arange(pad_to)[None, :] < np.array(lengths)[:, None]
    for row, length in enumerate(lengths):
        out[row, :, :length] = real[row, :, :length]
    return out.astype("float32"), mask.astype("int32")


def check_layer(make, inputs, *, call=None, expected_trainable: int | None = None, save="keras",
                atol: float = 1e-6):
    """Check the layer `make()` builds, called on `inputs` (an array or a dict of arrays) as
    `call(layer, inputs)` (default: `layer(inputs)`). Returns the checked layer."""
    call = call or (lambda layer, x: layer(x))
    layer = make()
    config, _ = _check_config(layer)
    model = _functional(layer, inputs, call)
    expected = model(inputs, training=False)
    if expected_trainable is not None:
        assert trainable_count(layer) == expected_trainable, \
            f"{type(layer).__name__}: {trainable_count(layer)} trainable parameters, expected {expected_trainable}"
    for mode in _modes(save):
        loaded = _reload(model, mode, lambda: keras.Model.from_config(model.get_config()))
        reloaded = loaded.layers[model.layers.index(layer)]
        assert type(reloaded) is type(layer) and as_saved(reloaded.get_config()) == as_saved(config)
        assert_outputs_close(loaded(inputs, training=False), expected, atol, f"{type(layer).__name__} after {mode} load")
    if layer.weights:  # a fresh layer of the same config differs: the file really held the weights
        fresh = keras.Model.from_config(model.get_config())
        assert _differs(fresh(inputs, training=False), expected, atol), \
            f"{type(layer).__name__}: freshly initialised copies give the same outputs; the save check proves nothing"
    return layer


def check_model(make, inputs, *, expected_trainable: int | None = None, save="keras", atol: float = 1e-6):
    """Check the model `make()` builds (subclassed or functional), called on `inputs`. With
    `save="weights"` the copy is built by calling it on `inputs` before `load_weights`.
    Returns the checked model."""
    model = make()
    expected = model(inputs, training=False)
    config, fresh = _check_config(model)
    if expected_trainable is not None:
        assert trainable_count(model) == expected_trainable, \
            f"{type(model).__name__}: {trainable_count(model)} trainable parameters, expected {expected_trainable}"
    for mode in _modes(save):
        def rebuild():
            copy = type(model).from_config(config)
            copy(inputs, training=False)
            return copy

        loaded = _reload(model, mode, rebuild)
        assert type(loaded) is type(model) and as_saved(loaded.get_config()) == as_saved(config)
        assert_outputs_close(loaded(inputs, training=False), expected, atol, f"{type(model).__name__} after {mode} load")
    assert _differs(fresh(inputs, training=False), expected, atol), \
        f"{type(model).__name__}: freshly initialised copies give the same outputs; the save check proves nothing"
    return model

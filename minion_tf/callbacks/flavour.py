"""Which Keras a model belongs to, so a callback of the other Keras says so in one line."""
from minion_tf.errors import MinionError

ADAPTERS = {"tf_keras": "minion_tf.callbacks.keras2", "keras": "minion_tf.callbacks.keras3"}
NAMES = {"tf_keras": "tf_keras (Keras 2)", "keras": "Keras 3"}


def check_flavour(callback, model, flavour: str) -> None:
    """Raise when `model` is a model of the other Keras than `flavour` ("tf_keras" or "keras").

    Models of neither (e.g. the fastText wrapper the runner passes) are accepted.

    Example:
        >>> check_flavour(cb, keras.Sequential(), "tf_keras")   # MinionError: ... use minion_tf.callbacks.keras3
    """
    owner = next((root for root in ADAPTERS if any(
        k.__module__.split(".")[0] == root and k.__name__ in ("Model", "Layer") for k in type(model).__mro__)), None)
    if owner is not None and owner != flavour:
        raise MinionError(f"{type(callback).__name__} from {ADAPTERS[flavour]} was given a {NAMES[owner]} model "
                          f"({type(model).__name__}); use {ADAPTERS[owner]}.{type(callback).__name__}")


class FlavourCheck:
    """Mixin of the Keras adapters: `set_model` refuses a model of the other Keras (`flavour` names its own)."""

    flavour: str  # "tf_keras" or "keras", set by each adapter

    def set_model(self, model):
        check_flavour(self, model, self.flavour)
        super().set_model(model)

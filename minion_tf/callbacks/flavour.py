"""Which Keras a model belongs to, so a callback of the other Keras says so in one line."""
from minion_tf.errors import MinionError

ADAPTERS = {"tf_keras": "minion_tf.callbacks.keras2", "keras": "minion_tf.callbacks.keras3"}
NAMES = {"tf_keras": "tf_keras (Keras 2)", "keras": "Keras 3"}


class FlavourCheck:
    """Mixin of the Keras adapters: `set_model` refuses a model of the other Keras (`flavour` names its own).

    Models of neither (e.g. the fastText wrapper the runner passes) are accepted.

    Example:
        >>> keras2.CalibrationCallback(val).set_model(keras.Sequential())   # MinionError: ... use ...keras3
    """

    flavour: str  # "tf_keras" or "keras", set by each adapter

    def set_model(self, model):
        owner = next((root for root in ADAPTERS if any(
            k.__module__.split(".")[0] == root and k.__name__ in ("Model", "Layer") for k in type(model).__mro__)),
            None)
        if owner is not None and owner != self.flavour:
            name = type(self).__name__
            raise MinionError(f"{name} from {ADAPTERS[self.flavour]} was given a {NAMES[owner]} model "
                              f"({type(model).__name__}); use {ADAPTERS[owner]}.{name}")
        super().set_model(model)

"""Side tuning: a small side network reads a frozen encoder's hidden states and classifies."""
import dataclasses

import tf_keras as keras

from minion_tf.errors import MinionError
from minion_tf.layers.masked_mean_pooling import MaskedMeanPooling
from minion_tf.layers.minion import MINION
from minion_tf.layers.read import READ

SIDE_NETWORKS = {"read": READ, "minion": MINION}


@dataclasses.dataclass(frozen=True)
class SideTuningConfig:
    """What `build_side_model` builds; checks itself on creation.

    Example:
        >>> SideTuningConfig(side="minion", hidden=64, num_states=7, model_dim=384)
    """

    side: str
    hidden: int
    num_states: int
    model_dim: int
    num_labels: int = 2  # 1: one linear output (regression, e.g. STS-B)

    def __post_init__(self):
        if self.side not in SIDE_NETWORKS:
            raise MinionError(
                f"unknown side network {self.side!r}; known: {', '.join(sorted(SIDE_NETWORKS))}"
            )
        for field, least in (("hidden", 1), ("num_states", 1), ("model_dim", 1), ("num_labels", 1)):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise MinionError(
                    f"side tuning: {field} must be an integer >= {least}, got {value!r}"
                )


def output_activation(num_labels: int) -> str | None:
    """Softmax over classes; no activation for one output (a regression score)."""
    return "softmax" if num_labels > 1 else None


def build_side_model(side, hidden, num_states, model_dim, num_labels=2, name=None):
    """Functional model: `{"states": (B, S, T, d), "mask": (B, T)}` -> class probabilities (or a score).

    The side network's correction is added to phi_N (the last state), mean-pooled over the
    real tokens and classified by a softmax Dense named "classifier". Every weight of the
    returned model is trainable; the encoder that produced `states` is not part of it.

    Example:
        >>> model = build_side_model("minion", hidden=8, num_states=3, model_dim=16)
        >>> model({"states": tf.zeros([2, 3, 5, 16]), "mask": tf.ones([2, 5])}).shape
        TensorShape([2, 2])
    """
    config = SideTuningConfig(side, hidden, num_states, model_dim, num_labels)
    states = keras.Input(shape=(num_states, None, model_dim), name="states")
    mask = keras.Input(shape=(None,), dtype="int32", name="mask")
    correction = SIDE_NETWORKS[config.side](hidden, model_dim, name=config.side)(states, mask=mask)
    tuned = keras.layers.Add(name="tuned")([states[:, -1], correction])
    pooled = MaskedMeanPooling(name="pooling")(tuned, mask=mask)
    probabilities = keras.layers.Dense(  # float32 outputs, also under mixed precision
        num_labels, activation=output_activation(num_labels), dtype="float32", name="classifier"
    )(pooled)
    return keras.Model(
        {"states": states, "mask": mask}, probabilities, name=name or f"{config.side}_{hidden}"
    )

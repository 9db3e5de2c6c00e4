"""callbacks: energy/memory sampling and calibration monitoring, framework-free at the core.

Keras callbacks: `minion_tf.callbacks.keras2` (tf_keras) and `minion_tf.callbacks.keras3`
(Keras 3); neither is imported here, so this package loads without any Keras.
"""
from minion_tf.callbacks.calibration_monitor import CalibrationMonitor, predict_probs
from minion_tf.callbacks.energy_config import EnergyConfig
from minion_tf.callbacks.energy_sampler import KEYS as ENERGY_KEYS
from minion_tf.callbacks.energy_sampler import EnergySampler

__all__ = ["CalibrationMonitor", "ENERGY_KEYS", "EnergyConfig", "EnergySampler", "predict_probs"]

"""Callbacks for Keras 3 (`import keras`). Importing it does not change tf_keras in the same process.

Example:
    >>> from minion_tf.callbacks.keras3 import CalibrationCallback, EnergyCallback
    >>> model.fit(x, y, validation_data=(xv, yv),
    ...           callbacks=[EnergyCallback(), CalibrationCallback((xv, yv)), keras.callbacks.CSVLogger("log.csv")])
"""
import keras

from minion_tf.callbacks.calibration_hooks import CalibrationHooks
from minion_tf.callbacks.energy_hooks import EnergyHooks


class EnergyCallback(EnergyHooks, keras.callbacks.Callback):
    __doc__ = EnergyHooks.__doc__


class CalibrationCallback(CalibrationHooks, keras.callbacks.Callback):
    __doc__ = CalibrationHooks.__doc__

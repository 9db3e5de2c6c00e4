"""Callbacks for Keras 3 (`import keras`, or `tf.keras` when TF_USE_LEGACY_KERAS is not set).

Importing this module changes nothing in the process (tf.keras stays what it was). Given a
tf_keras model, the callbacks stop with one line pointing at `minion_tf.callbacks.keras2`.

Example:
    >>> from minion_tf.callbacks.keras3 import CalibrationCallback, EnergyCallback
    >>> model.fit(x, y, validation_data=(xv, yv),
    ...           callbacks=[EnergyCallback(), CalibrationCallback((xv, yv)), keras.callbacks.CSVLogger("log.csv")])
"""
import keras

from minion_tf.callbacks.calibration_hooks import CalibrationHooks
from minion_tf.callbacks.energy_hooks import EnergyHooks
from minion_tf.callbacks.flavour import FlavourCheck


class EnergyCallback(FlavourCheck, EnergyHooks, keras.callbacks.Callback):
    __doc__ = EnergyHooks.__doc__
    flavour = "keras"


class CalibrationCallback(FlavourCheck, CalibrationHooks, keras.callbacks.Callback):
    __doc__ = CalibrationHooks.__doc__
    flavour = "keras"

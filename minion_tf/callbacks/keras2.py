"""Callbacks for tf_keras (Keras 2), the Keras of transformers' TF models. Never imports Keras 3.

Given a Keras 3 model, they stop with one line pointing at `minion_tf.callbacks.keras3`.

Example:
    >>> from minion_tf.callbacks.keras2 import CalibrationCallback, EnergyCallback
    >>> model.fit(x, y, validation_data=(xv, yv),
    ...           callbacks=[EnergyCallback(), CalibrationCallback((xv, yv)), tf_keras.callbacks.CSVLogger("log.csv")])
"""
import tf_keras

from minion_tf.callbacks.calibration_hooks import CalibrationHooks
from minion_tf.callbacks.energy_hooks import EnergyHooks
from minion_tf.callbacks.flavour import FlavourCheck


class EnergyCallback(FlavourCheck, EnergyHooks, tf_keras.callbacks.Callback):
    __doc__ = EnergyHooks.__doc__
    flavour = "tf_keras"


class CalibrationCallback(FlavourCheck, CalibrationHooks, tf_keras.callbacks.Callback):
    __doc__ = CalibrationHooks.__doc__
    flavour = "tf_keras"

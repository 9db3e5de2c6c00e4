"""metrics: calibration errors, reliability bins and temperature scaling, in numpy (no TensorFlow).

The reliability diagram lives in `minion_tf.metrics.reliability_plot` (imports matplotlib).
"""
from minion_tf.metrics.calibration import ace, calibration_errors, ece, mce, reliability_bins
from minion_tf.metrics.temperature import apply_temperature, fit_temperature, nll

__all__ = ["ace", "apply_temperature", "calibration_errors", "ece", "fit_temperature", "mce", "nll", "reliability_bins"]

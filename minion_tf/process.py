"""What the package's own commands set for their process, and nothing the library sets for yours.

`setup_command()` is called by the scripts in `experiments/`, `benchmarks/` and `data_prep/`
before anything imports TensorFlow. A program that imports `minion_tf` as a library keeps
its own settings.

Example:
    >>> from minion_tf.process import setup_command
    >>> setup_command()   # first thing in a command-line script
"""
import os

COMMAND_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's C++ start-up chatter
    "TF_USE_LEGACY_KERAS": "1",  # tf.keras = tf_keras, the Keras of transformers' TF models
    "HF_HUB_OFFLINE": "1",  # an offline machine fails at once instead of hanging on the hub
}


def setup_command() -> None:
    """Set `COMMAND_ENV` where the user has not set the variable already."""
    for name, value in COMMAND_ENV.items():
        os.environ.setdefault(name, value)

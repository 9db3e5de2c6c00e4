"""minion_tf: side networks (READ, MINION) and fine-tuning baselines over frozen transformers.

Importing the package changes nothing in your process: no environment variable, no Keras
switch. The package's own Keras code imports `tf_keras` (Keras 2, the Keras of transformers'
TF models) by name, so it works whether `tf.keras` is Keras 2 or Keras 3. The commands in
`experiments/`, `benchmarks/` and `data_prep/` call `minion_tf.process.setup_command()`.
"""
from minion_tf.errors import MinionError

__version__ = "0.1.0"
__all__ = ["MinionError", "__version__"]

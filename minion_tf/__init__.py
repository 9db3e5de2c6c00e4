"""minion_tf: side networks (READ, MINION) and fine-tuning baselines over frozen transformers.

transformers' TF models are tf_keras (Keras 2) models, so the package pins Keras 2 for
TensorFlow before TensorFlow is first imported (see DESIGN.md, "Verified stack").
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Never let transformers/huggingface_hub hang on a blocked network by default;
# `backbones.load_backbone(..., allow_download=True)` lifts this for users with a network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from minion_tf.errors import MinionError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["MinionError", "__version__"]

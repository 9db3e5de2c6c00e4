"""Predict one head of a finished multi-task minBERT run on new texts (`experiments/predict.py --head`).

The model is rebuilt from the run's config on the pretrained encoder, and the model part of
its last checkpoint (`progress/epoch-N`) is restored. Runs of the runner (`--model multitask`)
and those of the older `experiments/multitask.py` (whose config has no "model") read alike.
What each head gives, one row a text:
- `sst`: the 5 class probabilities (softmax of its logits), labels "0".."4";
- `para`: [P(not duplicate), P(duplicate)] (sigmoid of its logit), labels "0", "1";
- `sts`: the similarity score clamped to 0..5, as the run's dev metric predicts it.

Example:
    >>> predict = load_head_predictor(Path("runs/multitask/minbert-multitask-lr5e-05-s0-1a2b3c4d"), "sts")
    >>> predict(["A man plays a guitar."], ["A man plays music."])   # array([[3.9]], dtype=float32)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from minion_tf.backbones import load_backbone
from minion_tf.data.minbert import MinbertSplit
from minion_tf.errors import MinionError
from minion_tf.multitask.batches import TaskFeatures
from minion_tf.multitask.training import build_model

# head -> (label names in class-id order, or None for a score; whether it reads sentence pairs)
HEADS = {"sst": (("0", "1", "2", "3", "4"), False), "para": (("0", "1"), True), "sts": (None, True)}


def load_head_predictor(run_dir: Path, head: str, batch_size: int = 256):
    """`predict(texts, pairs=None) -> (n, outputs)` of one head of a finished multi-task run."""
    import tensorflow as tf

    from minion_tf.multitask.model import clamp_sts

    run_dir = Path(run_dir)
    record = run_dir / "run.json"
    if not record.is_file():
        raise MinionError(f"{run_dir}: no run.json (not a finished run)")
    config = json.loads(record.read_text())["config"]  # flat: the shared fields and the method's options
    progress = run_dir / "progress" / "progress.json"
    if not progress.is_file():
        raise MinionError(f"{run_dir}: no {progress.relative_to(run_dir)} (its checkpoints are gone)")
    checkpoint = run_dir / "progress" / json.loads(progress.read_text())["checkpoint"]
    backbone = load_backbone(config["encoder"], config.get("tokenizer"), trainable=True)  # as when trained
    model = build_model(backbone.encoder, config.get("sts_head", "mlp"), config.get("pooling", "mean"),
                        config.get("head_dropout", 0.1))
    max_length = config["max_length"]
    try:
        tf.train.Checkpoint(model=model).read(str(checkpoint)).expect_partial().assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as err:
        raise MinionError(f"{checkpoint}: cannot restore the model ({type(err).__name__})") from None
    separate = head == "sts" and model.siamese_sts
    finish = {"sst": tf.nn.softmax,
              "para": lambda logit: tf.stack([tf.sigmoid(-logit), tf.sigmoid(logit)], -1),
              "sts": lambda score: clamp_sts(score)[:, None]}[head]
    call = tf.function(lambda feats: finish(model.task_output(head, feats, training=False)), reduce_retracing=True)
    labels, _ = HEADS[head]

    def predict(texts, pairs=None) -> np.ndarray:
        split = MinbertSplit(head, list(range(len(texts))), list(texts), None if pairs is None else list(pairs),
                             np.zeros(len(texts), np.float32))
        features = TaskFeatures.from_split(backbone, split, max_length, separate)
        out = np.zeros((len(texts), 1 if labels is None else len(labels)), np.float32)
        for rows in features.plan(batch_size):
            out[rows] = call({k: v for k, v in features.batch(rows).items() if k != "labels"}).numpy()
        return out

    return predict

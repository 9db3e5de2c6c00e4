"""Shared fixtures: a tiny random BERT (fast) and the real MiniLM (slow tests)."""
import os

from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # never let a test reach for the network

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_backbone():
    """A 2-layer, width-32 BERT with random weights and MiniLM's tokenizer."""
    from transformers import BertConfig

    from minion_tf.backbones import Backbone, encoder_from_config, minilm_dir
    from minion_tf.text_tokenizer import TextTokenizer

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    encoder = encoder_from_config(config)
    encoder.trainable = False
    tokenizer = TextTokenizer.from_file(minilm_dir() / "tokenizer.json")
    return Backbone(name="tiny-bert", encoder=encoder, tokenizer=tokenizer, config=config)


@pytest.fixture(scope="session")
def minilm():
    from minion_tf.backbones import load_backbone

    return load_backbone()


@pytest.fixture(scope="session")
def tiny_encoder_dir(tiny_backbone, tmp_path_factory) -> Path:
    """The tiny BERT saved as a local encoder directory (tf_model.h5 + config + tokenizer)."""
    import shutil

    from minion_tf.backbones import minilm_dir

    directory = tmp_path_factory.mktemp("tiny-encoder")
    tiny_backbone.encoder.save_pretrained(str(directory))
    shutil.copy(minilm_dir() / "tokenizer.json", directory / "tokenizer.json")
    return directory


@pytest.fixture(scope="session")
def tweet_dir(tmp_path_factory) -> Path:
    """A competition-layout folder of 300 short tweets whose words give their label away."""
    import numpy as np

    rng = np.random.default_rng(0)
    good, bad, filler = ["great", "love", "happy", "fun"], ["awful", "hate", "sad", "boring"], ["day", "the", "it"]
    directory = tmp_path_factory.mktemp("tweets")
    for name, words in (("train_pos.txt", good), ("train_neg.txt", bad)):
        lines = {" ".join(rng.choice(words + filler, size=rng.integers(3, 9))) + f" #{i}" for i in range(150)}
        (directory / name).write_text("\n".join(sorted(lines)) + "\n")
    return directory


@pytest.fixture
def cut_after_first_epoch(monkeypatch):
    """`cut(config)` runs `config` and kills it (Ctrl-C) right after its first epoch's checkpoint;
    it checks that the cut run left no run.json behind."""
    from minion_tf.runs import resume
    from minion_tf.runs.runner import run

    real_end = resume.EpochCheckpoint.on_epoch_end

    def die_after_first_epoch(self, epoch, logs=None):
        real_end(self, epoch, logs)
        if epoch == 0:
            raise KeyboardInterrupt

    def cut(config):
        monkeypatch.setattr(resume.EpochCheckpoint, "on_epoch_end", die_after_first_epoch)
        try:
            with pytest.raises(KeyboardInterrupt):
                run(config)
        finally:
            monkeypatch.setattr(resume.EpochCheckpoint, "on_epoch_end", real_end)
        assert not (config.run_dir() / "run.json").exists()  # an unfinished run never looks finished

    return cut

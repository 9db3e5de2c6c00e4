import time

import numpy as np
import pytest

from minion_tf.backbones import (canonical_encoder, describe_dims, load_backbone, minilm_dir, random_backbone,
                                 resolve_encoder_dir)
from minion_tf.errors import MinionError
from minion_tf.text_tokenizer import TextTokenizer


def test_bertweet_base_has_the_papers_encoder_size_from_config_alone():
    dims = describe_dims("vinai/bertweet-base")
    assert dims == {"model_dim": 768, "num_states": 13, "encoder_params": 134_899_968}


def test_a_random_backbone_counts_from_config_alone_and_has_no_tokenizer():
    bb = random_backbone("vinai/bertweet-base")  # no weights on this machine: the shipped config
    assert bb.tokenizer is None and bb.segment_sep_id is None
    assert (bb.num_states, bb.model_dim) == (13, 768)
    assert bb.encoder.count_params() == describe_dims("vinai/bertweet-base")["encoder_params"]


def test_a_random_bert_has_segments_but_no_separator_without_a_tokenizer():
    bb = random_backbone("huawei-noah/TinyBERT_General_4L_312D")
    assert bb.config.type_vocab_size == 2 and bb.segment_sep_id is None


@pytest.mark.parametrize("name", [None, "minilm", "MiniLM", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2",
                                  "SENTENCE-TRANSFORMERS/ALL-MINILM-L6-V2"])
def test_minilm_aliases_are_one_canonical_name(name):
    assert canonical_encoder(name) == "minilm"


def test_canonical_names_of_directories_and_ids(tmp_path, monkeypatch):
    assert canonical_encoder(str(minilm_dir())) == "minilm"
    assert canonical_encoder(str(minilm_dir()) + "/") == "minilm"
    (tmp_path / "enc").mkdir()
    monkeypatch.chdir(tmp_path)
    assert canonical_encoder("enc") == canonical_encoder("./enc/") == str(tmp_path.resolve() / "enc")
    assert canonical_encoder("vinai/bertweet-base") == "vinai/bertweet-base"
    assert canonical_encoder("no-such-dir") == "no-such-dir"  # refused later, by the loader


def test_canonical_names_import_no_framework():
    import subprocess
    import sys

    code = ("import sys; from minion_tf.backbones import canonical_encoder, check_encoder, minilm_dir; "
            "canonical_encoder(None); canonical_encoder(str(minilm_dir())); canonical_encoder('keras-hub:minilm'); "
            "canonical_encoder('random:minilm'); canonical_encoder('random:vinai/bertweet-base'); "
            "check_encoder('random:vinai/bertweet-base'); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'tf_keras', 'keras', 'keras_hub', "
            "'transformers', 'tokenizers'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_unreachable_weights_fail_fast_with_one_line():
    start = time.perf_counter()
    with pytest.raises(MinionError, match="not on this machine and downloads are off"):
        resolve_encoder_dir("vinai/bertweet-base")
    assert time.perf_counter() - start < 10


def test_unknown_names_and_bad_directories_are_refused(tmp_path):
    with pytest.raises(MinionError, match="unknown encoder"):
        resolve_encoder_dir("no-such-encoder")
    with pytest.raises(MinionError, match="needs config.json"):
        resolve_encoder_dir(str(tmp_path))


def test_minilm_loads_offline_with_real_weights(minilm):
    assert (minilm.num_states, minilm.model_dim) == (7, 384)
    assert minilm.encoder.count_params() == 22_713_216
    ids, mask = minilm.batch(["a good day", "bad"], max_length=16)
    assert ids[0, 0] == 101 and mask.sum(1).tolist() == [5, 3]
    states = minilm.hidden_states(ids, mask).numpy()
    assert states.shape == (2, 7, 5, 384)
    # Pretrained, not random: a sentence's [CLS] states in the last layer point the same way.
    a, b = minilm.hidden_states(*minilm.batch(["i love it", "i adore it"], 16)).numpy()[:, -1, 0]
    assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.8


def test_minilm_loads_from_its_directory_the_same_way(minilm):
    again = load_backbone(str(resolve_encoder_dir("minilm")))
    assert again.identity()["weights"] == minilm.identity()["weights"]


def test_bertweet_tokenizer_from_shared_data(shared_data):
    tok = TextTokenizer.from_file(shared_data / "bertweet_tokenizer" / "bertweet_tokenizers.json")
    (ids,) = tok.encode(["hello world , how are you ?"], max_length=128)
    assert ids[0] == 0 and ids[-1] == 2 and len(ids) > 4  # <s> ... </s>
    (short,) = tok.encode(["word " * 200], max_length=20)
    assert len(short) == 20


def test_max_length_beyond_positions_is_refused(tiny_backbone):
    with pytest.raises(MinionError, match="exceeds"):
        tiny_backbone.batch(["x"], max_length=129)


def test_without_its_encoder_a_backbone_keeps_names_dims_and_identity_and_refuses_states(tiny_backbone):
    released = tiny_backbone.without_encoder()
    assert released.encoder is None and tiny_backbone.encoder is not None  # a copy: the original keeps its own
    assert released.identity() == tiny_backbone.identity()
    assert (released.name, released.num_states, released.model_dim, released.tokenizer) == (
        tiny_backbone.name, tiny_backbone.num_states, tiny_backbone.model_dim, tiny_backbone.tokenizer)
    assert released.without_encoder().identity() == tiny_backbone.identity()
    ids, mask = released.batch(["good day"], max_length=16)  # the tokenizer stays
    with pytest.raises(MinionError, match="encoder was released"):
        released.hidden_states(ids, mask)


@pytest.mark.parametrize("name,message", [
    ("/nonexistent", "/nonexistent: no such directory; known encoders are minilm"),
    ("./models/nope", "./models/nope: no such directory"),
    ("a/b/c", "a/b/c: no such directory"),
    ("nosuch", "unknown encoder 'nosuch': known encoders are minilm"),
    ("bad name!/x", "unknown encoder 'bad name!/x'"),
])
def test_an_encoder_that_is_not_there_gets_one_line_with_the_known_ones(name, message, capsys, tmp_path):
    from minion_tf.runs.cli import main

    for describe in ([], ["--describe"]):
        assert main(["--encoder", name, "--out", str(tmp_path), *describe]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "vinai/bertweet-base" in err and len(err.splitlines()) == 1
    assert not list(tmp_path.rglob("*.tsv"))  # refused before any data were prepared

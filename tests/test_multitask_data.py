"""minBERT readers on the real files, the seeded Quora split, and errors that name file and line."""
import numpy as np
import pytest

from minion_tf.data.minbert import read_minbert, split_fraction, subsample
from minion_tf.errors import MinionError


def test_quora_skips_and_counts_empty_labels(shared_data):
    quora = read_minbert(shared_data / "minbert" / "quora-dev.csv", "quora")
    assert (len(quora), quora.skipped) == (20212, 2)
    assert set(np.unique(quora.labels)) == {0, 1}
    # CSV quoting, as minBERT's own csv.DictReader(delimiter="\t") reads it: outer quotes go, "" -> "
    row = quora.ids.index("318658e273ac78f3b1e957b8b")
    assert quora.texts_a[row] == ('"Which is correct grammar: I graduated from University of XXXX or I graduated '
                                  'from the University of XXXX? Do I need ""the"" here?"')


def test_quora_split_is_seeded_and_disjoint(shared_data):
    quora = read_minbert(shared_data / "minbert" / "quora-dev.csv", "quora")
    train, dev = split_fraction(quora, 0.9, seed=0)
    again, _ = split_fraction(quora, 0.9, seed=0)
    other, _ = split_fraction(quora, 0.9, seed=1)
    assert (len(train), len(dev)) == (18191, 2021)
    assert train.ids == again.ids and train.ids != other.ids
    assert not set(train.ids) & set(dev.ids)


@pytest.mark.parametrize("name, kind, rows, labels", [
    ("ids-sst-dev.csv", "sst", 1101, {0, 1, 2, 3, 4}), ("ids-cfimdb-dev.csv", "cfimdb", 245, {0, 1}),
])
def test_single_sentence_files(shared_data, name, kind, rows, labels):
    split = read_minbert(shared_data / "minbert" / name, kind)
    assert len(split) == rows and set(split.labels.tolist()) == labels and split.texts_b is None


def test_sts_scores_are_floats_in_range(shared_data):
    sts = read_minbert(shared_data / "minbert" / "sts-dev.csv", "sts")
    assert len(sts) == 863 and sts.labels.dtype == np.float32
    assert 0.0 <= sts.labels.min() and sts.labels.max() <= 5.0


def test_subsample_is_seeded(shared_data):
    sst = read_minbert(shared_data / "minbert" / "ids-sst-dev.csv", "sst")
    a, b = subsample(sst, 100, 0), subsample(sst, 100, 0)
    assert len(a) == 100 and a.ids == b.ids and subsample(sst, None, 0) is sst


def test_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "sst.csv"
    bad.write_text("\tid\tsentence\tsentiment\n0\ta\tgood\t3\n1\tb\tbad\t7\n")
    with pytest.raises(MinionError, match=r"sst.csv:3: bad sentiment '7'"):
        read_minbert(bad, "sst")
    bad.write_text("\tid\tsentence\tsentiment\n0\ta\tgood\n")
    with pytest.raises(MinionError, match=r"sst.csv:2: 3 fields, the header has 4"):
        read_minbert(bad, "sst")
    bad.write_text("\tid\ttext\tsentiment\n0\ta\tgood\t1\n")
    with pytest.raises(MinionError, match=r"sst.csv:1: no column 'sentence'"):
        read_minbert(bad, "sst")
    with pytest.raises(MinionError, match="no such file"):
        read_minbert(tmp_path / "missing.csv", "sts")

"""GLUE / IMDb readers: the real files in ../shared/data, tfds mock data, and every bad input."""
import numpy as np
import pytest

from minion_tf.data.glue import TASKS, get_task, load_task, split_train_val
from minion_tf.errors import MinionError

# (task, train rows, test rows) as ../shared/data/README.md lists them
LOCAL = [("cola", 8551, 1043), ("sst2", 67349, 872), ("mrpc", 3668, 408), ("stsb", 5749, 1500),
         ("rte", 2490, 277), ("wnli", 635, 71)]


@pytest.mark.parametrize("task,n_train,n_test", LOCAL)
def test_local_glue_files(shared_data, task, n_train, n_test):
    spec = get_task(task)
    splits = load_task(task, data_dir=shared_data / "glue")
    assert (len(splits["train"]), len(splits["test"])) == (n_train, n_test)
    for split in splits.values():
        assert (split.pairs is not None) == spec.is_pair
        if spec.is_regression:
            assert split.labels.dtype == np.float32 and split.labels.min() >= 0 and split.labels.max() <= 5
        else:
            assert split.labels.dtype == np.int64 and set(split.labels) == set(range(spec.num_labels))


def test_first_rows_are_read_exactly(shared_data):
    glue = shared_data / "glue"
    cola = load_task("cola", glue)["train"]           # headerless: source, label, star, sentence
    assert (cola.texts[0], cola.labels[0]) == ("Our friends won't buy this analysis, let alone the next one we propose.", 1)
    mrpc = load_task("mrpc", glue)["train"]           # the BOM must not hide the "Quality" column
    assert mrpc.texts[0].startswith("Amrozi accused his brother") and mrpc.pairs[0].startswith("Referring to him")
    assert mrpc.labels[0] == 1
    rte = load_task("rte", glue / "RTE")["train"]     # a task's own folder works too; not_entailment -> 1
    assert rte.texts[0] == "No Weapons of Mass Destruction Found in Iraq Yet." and rte.labels[0] == 1
    stsb = load_task("STS-B", glue)["test"]
    assert stsb.labels[1] == np.float32(4.75)


def test_imdb_csv(shared_data):
    splits = load_task("imdb", data_dir=shared_data / "imdb")
    assert len(splits["train"]) == len(splits["test"]) == 25000
    assert splits["train"].labels.sum() == 12500 and splits["train"].pairs is None
    assert splits["train"].texts[0].startswith("Bromwell High is a cartoon comedy")
    assert '"Teachers"' in splits["train"].texts[0]    # doubled quotes of the CSV are unescaped


def test_split_train_val_is_seeded_and_disjoint(shared_data):
    train = load_task("rte", shared_data / "glue")["train"]
    a_train, a_val = split_train_val(train, 0.9, seed=0)
    b_train, _ = split_train_val(train, 0.9, seed=0)
    c_train, _ = split_train_val(train, 0.9, seed=1)
    assert (len(a_train), len(a_val)) == (2241, 249)
    assert a_train.texts == b_train.texts and a_train.texts != c_train.texts
    rows = lambda s: list(zip(s.texts, s.pairs, s.labels.tolist()))
    assert sorted(rows(a_train) + rows(a_val)) == sorted(rows(train))   # a partition of train
    small, rest = split_train_val(train, 0.3, seed=0)
    assert len(small) == 747 and len(rest) == 1743


def test_tfds_mock_data_every_task(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        for name, spec in TASKS.items():
            splits = load_task(name, tfds_dir=tmp_path)
            assert set(splits) == {"train", *spec.test_files}
            for split in splits.values():
                assert len(split) == 6 and isinstance(split.texts[0], str)
                assert (split.pairs is not None) == spec.is_pair
                assert split.labels.dtype == (np.float32 if spec.is_regression else np.int64)


def test_tfds_missing_data_is_one_line(tmp_path):
    with pytest.raises(MinionError, match=r"tfds glue/rte train: no prepared data under .*downloads are off"):
        load_task("rte", tfds_dir=tmp_path)


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_bad_inputs_each_give_one_clear_line(tmp_path):
    with pytest.raises(MinionError, match=r"unknown task 'glu': known tasks are cola, sst2, .*imdb"):
        load_task("glu", tmp_path)
    rte = tmp_path / "RTE"
    _write(rte, "train.tsv", "index\tsentence1\tlabel\n0\ta\tentailment\n")
    _write(rte, "dev.tsv", "index\tsentence1\tsentence2\tlabel\n")
    with pytest.raises(MinionError, match=r"RTE/train.tsv:1: missing column\(s\) sentence2; found columns: index, "):
        load_task("rte", tmp_path)
    _write(rte, "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tmaybe\n")
    with pytest.raises(MinionError, match=r"RTE/train.tsv:3: label 'maybe' is not one of entailment, not_entailment"):
        load_task("rte", tmp_path)
    _write(rte, "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
    with pytest.raises(MinionError, match=r"RTE/dev.tsv: empty split"):
        load_task("rte", tmp_path)
    _write(tmp_path / "STS-B", "train.tsv", "sentence1\tsentence2\tscore\na\tb\t5.5\n")
    with pytest.raises(MinionError, match=r"STS-B/train.tsv:2: label '5.5' is not a score in \[0, 5\]"):
        load_task("stsb", tmp_path)
    _write(tmp_path / "CoLA", "train.tsv", "gj04\t1\t\tfine.\ngj04\t1\tonly three\n")
    with pytest.raises(MinionError, match=r"CoLA/train.tsv:2: expected 4 columns \(source, label, star, sentence\), found 3"):
        load_task("cola", tmp_path)
    with pytest.raises(MinionError, match=r"no mrpc data: expected .*/MRPC/train.tsv"):
        load_task("mrpc", tmp_path)

"""`--task text`: a user's own labelled data, k classes or a score, files or a folder, dedupe, checks."""
import csv
import json

import numpy as np
import pytest

from minion_tf.data.user_text import TextSource, load_text_task
from minion_tf.errors import MinionError
from minion_tf.runs.config import RunConfig

ANIMALS = {"cat": ["meow", "purr", "whiskers"], "dog": ["bark", "woof", "fetch"], "eel": ["swim", "slither", "eel"]}


def write_table(path, rows, header=("text", "label")):
    sep = "\t" if path.suffix == ".tsv" else ","
    path.write_text("\n".join([sep.join(header), *(sep.join(r) for r in rows)]) + "\n", encoding="utf-8")
    return path


def animal_rows(per_class: int, seed: int = 0, start: int = 0):
    rng = np.random.default_rng(seed)
    return [(" ".join(rng.choice(words, 3)) + f" number {start + i}", label)
            for label, words in ANIMALS.items() for i in range(per_class)]


def test_one_file_is_split_80_10_10_by_class_with_the_seed(tmp_path):
    path = write_table(tmp_path / "animals.csv", animal_rows(30))
    data = load_text_task(TextSource(str(path)), seed=3)
    assert data.spec.labels == ("cat", "dog", "eel") and data.spec.num_labels == 3
    assert {n: len(s) for n, s in data.splits.items()} == {"train": 72, "val": 9, "test": 9}
    for split in data.splits.values():
        assert np.bincount(split.labels, minlength=3).tolist() == [len(split) // 3] * 3  # stratified
    texts = [t for s in data.splits.values() for t in s.texts]
    assert len(set(texts)) == 90  # disjoint splits covering every row
    again = load_text_task(TextSource(str(path)), seed=3)
    assert again.splits["test"].texts == data.splits["test"].texts
    assert load_text_task(TextSource(str(path)), seed=4).splits["test"].texts != data.splits["test"].texts


def test_numeric_labels_are_classes_in_numeric_order(tmp_path):
    rows = [(f"text {i}", ("10", "2", "1")[i % 3]) for i in range(60)]
    data = load_text_task(TextSource(str(write_table(tmp_path / "n.tsv", rows))))
    assert data.spec.labels == ("1", "2", "10")


def test_dedupe_drops_repeats_conflicts_and_train_copies_of_test_texts(tmp_path):
    rows = animal_rows(20)
    train = rows + [rows[0], ("same words", "cat"), ("same  words", "dog")]  # the same after normalising
    test = animal_rows(3, seed=9, start=100) + [rows[1], rows[1]]  # a given test file keeps every row
    write_table(tmp_path / "train.csv", train)
    write_table(tmp_path / "test.csv", test)
    data = load_text_task(TextSource(str(tmp_path)))
    assert data.removed == {"duplicates": 1, "conflicting_labels": 2, "in_a_later_split": 1}
    assert data.splits["test"].texts.count(rows[1][0]) == 2 and len(data.splits["test"]) == len(test)
    assert rows[1][0] not in data.splits["train"].texts + data.splits["val"].texts
    assert len(data.splits["train"]) + len(data.splits["val"]) == 59
    kept = load_text_task(TextSource(str(tmp_path), dedupe=False))
    assert len(kept.splits["train"]) + len(kept.splits["val"]) == len(train)


def test_a_folder_with_train_and_val_tests_on_val_and_cuts_val_from_train(tmp_path):
    write_table(tmp_path / "train.csv", animal_rows(20))
    write_table(tmp_path / "val.csv", animal_rows(4, seed=1, start=50))
    data = load_text_task(TextSource(str(tmp_path)), train_fraction=0.9)
    assert {n: len(s) for n, s in data.splits.items()} == {"train": 54, "val": 6, "test": 12}
    assert data.splits["test"].source == str(tmp_path / "val.csv")


def test_tweeteval_layout_with_its_mapping(tmp_path):
    for split, n in (("train", 30), ("val", 6)):
        rows = animal_rows(n // 3, seed=len(split), start=100 * len(split))
        (tmp_path / f"{split}_text.txt").write_text("\n".join(t for t, _ in rows) + "\n")
        (tmp_path / f"{split}_labels.txt").write_text("\n".join(str(list(ANIMALS).index(y)) for _, y in rows) + "\n")
    (tmp_path / "mapping.txt").write_text("0\tfeline\n1\tcanine\n2\tfish\n")
    data = load_text_task(TextSource(str(tmp_path)))
    assert data.spec.labels == ("feline", "canine", "fish")
    assert data.splits["test"].labels.tolist() == [0, 0, 1, 1, 2, 2]


def test_the_real_tweeteval_sentiment(shared_data):
    data = load_text_task(TextSource(str(shared_data / "tweets" / "tweeteval_sentiment")), max_examples=3000)
    assert data.spec.labels == ("negative", "neutral", "positive")
    assert len(data.splits["test"]) == 2000 and len(data.splits["train"]) + len(data.splits["val"]) == 3000
    assert set(data.spec.metrics) == {"accuracy", "macro_recall", "macro_f1"}


def test_pairs_and_regression(tmp_path):
    rows = [(f"first {i}", f"second {i}", f"{i / 10:.1f}") for i in range(40)]
    path = write_table(tmp_path / "sts.tsv", rows, header=("a", "b", "score"))
    data = load_text_task(TextSource(str(path), text_column="a", pair_column="b", label_column="score",
                                     regression=True))
    assert data.spec.is_regression and data.spec.is_pair and data.spec.primary == "pearson"
    train = data.splits["train"]
    assert train.labels.dtype == np.float32 and train.pairs == [t.replace("first", "second") for t in train.texts]
    np.testing.assert_allclose(train.labels, [float(t.split()[1]) / 10 for t in train.texts])


@pytest.mark.parametrize("rows,message", [
    ([(f"t {i}", "yes") for i in range(20)], "every example has the label 'yes'"),
    ([(f"t {i}", "a") for i in range(30)] + [(f"u {i}", "b") for i in range(5)],
     "class 'b' has 5 example(s); a 80/10/10 split needs at least 10 of each"),
    ([("fine", "a"), ("", "b")], "x.csv:3: empty text in column 'text'"),
])
def test_bad_data_gives_one_line(rows, message, tmp_path):
    with pytest.raises(MinionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_text_task(TextSource(str(write_table(tmp_path / "x.csv", rows))))


def test_a_test_class_unseen_in_train_and_a_non_numeric_score_are_refused(tmp_path):
    write_table(tmp_path / "train.csv", [r for r in animal_rows(20) if r[1] != "eel"])
    write_table(tmp_path / "test.csv", animal_rows(2, seed=5, start=90))
    with pytest.raises(MinionError, match=r"test.csv: class 'eel' never occurs in train"):
        load_text_task(TextSource(str(tmp_path)))
    path = write_table(tmp_path / "s.csv", [("a", "1.5"), ("b", "high")])
    with pytest.raises(MinionError, match=r"s.csv:3: label 'high' is not a number"):
        load_text_task(TextSource(str(path), regression=True))


def test_text_flags_belong_to_the_text_task():
    with pytest.raises(MinionError, match="--label-column goes with --task text"):
        RunConfig(label_column="stars")
    with pytest.raises(MinionError, match="known tasks are tweets, text, cola"):
        RunConfig(task="nosuch")


@pytest.mark.parametrize("model", ["minion", "fasttext"])
def test_a_three_class_run_records_its_label_names(model, tiny_encoder_dir, tmp_path):
    from minion_tf.runs.runner import run

    path = write_table(tmp_path / "animals.csv", [(t, y.upper()) for t, y in animal_rows(20)],
                       header=("sentence", "animal"))
    config = RunConfig(task="text", model=model, options={"hidden": 4} if model == "minion" else {}, data=str(path), text_column="sentence",
                       label_column="animal", epochs=2, batch_size=16, max_length=16, encoder=str(tiny_encoder_dir),
                       out=str(tmp_path / "runs"), lr=1e-2 if model == "minion" else None, tensorboard=True)
    record = run(config)
    history = list(csv.DictReader(open(config.run_dir() / "history.csv")))
    assert len(history) == len(record["epochs"]) and {"val_ace", "energy_kwh", "val_accuracy"} <= set(history[0])
    assert list((config.run_dir() / "tensorboard" / "validation").glob("events.out.tfevents.*"))
    assert record["task"]["labels"] == ["CAT", "DOG", "EEL"] and record["task"]["pair"] is False
    assert record["task"]["normalise"] == {"split_hashtags": False, "anonymise": False}
    assert record["data"] == {"train": 48, "val": 6, "test": 6}
    assert np.load(config.run_dir() / "test_probs.npy").shape == (6, 3)
    assert set(record["test"]["metrics"]) == {"accuracy", "macro_recall", "macro_f1"}
    assert json.loads((config.run_dir() / "run.json").read_text())["test"]["score"] == record["test"]["accuracy"]
    # predict.py gives the run's label names back, and the run's own test predictions
    from minion_tf.runs.cli import guarded
    from minion_tf.runs.predict import predict_file
    from minion_tf.runs.task_data import load_run_data

    test = load_run_data(config).splits["test"]
    (tmp_path / "new.txt").write_text("\n".join(test.texts) + "\n")
    assert guarded(lambda: predict_file(config.run_dir(), tmp_path / "new.txt", tmp_path / "preds.csv")) == 0
    rows = list(csv.reader(open(tmp_path / "preds.csv")))
    assert rows[0] == ["id", "label", "p_CAT", "p_DOG", "p_EEL"]
    probs = np.array([[float(v) for v in row[2:]] for row in rows[1:]])
    np.testing.assert_allclose(probs, np.load(config.run_dir() / "test_probs.npy"), atol=2e-5)
    assert [row[1] for row in rows[1:]] == [["CAT", "DOG", "EEL"][k] for k in probs.argmax(1)]

"""Kaggle submissions: format checks, the writer on the real test_data.txt, CLI errors in one line."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minion_tf.errors import MinionError
from minion_tf.runs.config import RunConfig
from minion_tf.submission import HEADER, validate_submission, write_predictions

ROOT = Path(__file__).resolve().parents[1]


def submit_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "experiments" / "submit.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def good_rows():
    return [HEADER] + [f"{i},{1 if i % 3 else -1}" for i in range(1, 10_001)]


@pytest.mark.parametrize("change, message", [
    (lambda rows: ["id,prediction"] + rows[1:], r":1: header must be 'Id,Prediction', found 'id,prediction'"),
    (lambda rows: rows[:-1], r": 9999 rows, expected 10000"),
    (lambda rows: rows + ["10001,1"], r": 10001 rows, expected 10000"),
    (lambda rows: rows[:3] + [rows[4], rows[3]] + rows[5:], r":4: expected id 3 in order, found '4,1'"),
    (lambda rows: rows[:10] + ["10,0"] + rows[11:], r":11: prediction must be -1 or 1, found '0'"),
    (lambda rows: rows[:10] + ["10;1"] + rows[11:], r":11: expected id 10 in order, found '10;1'"),
])
def test_wrong_files_are_refused_with_one_line(tmp_path, change, message):
    path = tmp_path / "s.csv"
    path.write_text("\n".join(good_rows()) + "\n")
    validate_submission(path)  # the unchanged file is fine
    path.write_text("\n".join(change(good_rows())) + "\n")
    with pytest.raises(MinionError, match=message) as err:
        validate_submission(path)
    assert "\n" not in str(err.value)


def test_writer_formats_the_real_test_ids_and_refuses_to_leave_a_bad_file(shared_data, tmp_path):
    from minion_tf.data.tweets import read_test_data

    ids, texts = read_test_data(shared_data / "cil_test" / "test_data.txt")
    out = tmp_path / "sub.csv"
    write_predictions(ids, np.arange(len(ids)) % 2 == 0, out)
    lines = out.read_text().splitlines()
    assert lines[:3] == [HEADER, "1,1", "2,-1"] and len(lines) == 10_001 and lines[-1] == "10000,-1"
    sample = (shared_data / "cil_test" / "sample_submission.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in sample] == [line.split(",")[0] for line in lines]
    with pytest.raises(MinionError, match=r"sub2.csv: 9999 rows, expected 10000"):
        write_predictions(ids[:-1], np.ones(len(ids) - 1, bool), tmp_path / "sub2.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.csv"]


@pytest.fixture(scope="module")
def fasttext_run(tweet_dir, tmp_path_factory):
    from minion_tf.runs.runner import run

    config = RunConfig(model="fasttext", data=str(tweet_dir), max_examples=300,
                       out=str(tmp_path_factory.mktemp("runs")))
    run(config)
    return config.run_dir()


def test_cli_writes_a_valid_submission_from_a_saved_fasttext_run(fasttext_run, shared_data, tmp_path):
    out = tmp_path / "submission.csv"
    result = submit_cli("--run", fasttext_run, "--test-data", shared_data / "cil_test" / "test_data.txt",
                        "--out", out)
    assert result.returncode == 0, result.stderr[-1500:]
    assert "10000 rows" in result.stdout
    validate_submission(out)


def test_side_model_submission_normalises_test_tweets_like_the_training_data(
        tiny_encoder_dir, tweet_dir, shared_data, tmp_path, monkeypatch):
    from minion_tf import submission
    from minion_tf.runs.runner import run
    from minion_tf.methods.minion import Minion

    config = RunConfig(model="minion", options={"hidden": 8}, epochs=1, batch_size=32, encoder=str(tiny_encoder_dir),
                       data=str(tweet_dir), max_examples=300, max_length=16, out=str(tmp_path))
    run(config)
    seen = []
    real_loader = Minion.load_predictor

    def spy(run_dir):
        predict = real_loader(run_dir)
        return lambda texts, pairs=None: seen.extend(texts) or predict(texts, pairs)

    monkeypatch.setattr(Minion, "load_predictor", staticmethod(spy))
    summary = submission.write_submission(config.run_dir(), shared_data / "cil_test" / "test_data.txt",
                                          tmp_path / "sub.csv")
    assert summary["rows"] == 10_000 and len(seen) == 10_000
    validate_submission(tmp_path / "sub.csv")
    assert not any("#" in t and t.split("#")[1][:1].isalpha() for t in seen)  # hashtags were split


def test_missing_test_data_and_malformed_lines_give_one_line(fasttext_run, shared_data, tmp_path):
    missing = submit_cli("--run", fasttext_run, "--test-data", tmp_path / "nope" / "test_data.txt",
                         "--out", tmp_path / "s.csv")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().count("\n") == 0 and "no test_data.txt there" in missing.stderr
    for body, what in (("1,good\n2 no comma here\n", "test_data.txt:2: expected 'id,tweet', found no comma"),
                       ("1,good\nx,bad id\n", "test_data.txt:2: id 'x' is not an integer")):
        bad = tmp_path / "test_data.txt"
        bad.write_text(body)
        result = submit_cli("--run", fasttext_run, "--test-data", bad, "--out", tmp_path / "s.csv")
        assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stderr
        assert what in result.stderr and "Traceback" not in result.stderr
    not_a_run = submit_cli("--run", tmp_path, "--test-data", shared_data / "cil_test" / "test_data.txt",
                           "--out", tmp_path / "s.csv")
    assert not_a_run.returncode == 2 and "no run.json (not a finished run)" in not_a_run.stderr
    assert not (tmp_path / "s.csv").exists()

"""A suite's run in its own process: the same record as in-process, its error raised here as one line."""
import json
import os

import pytest

from minion_tf.errors import MinionError
from minion_tf.runs.config import RunConfig
from minion_tf.runs.isolated import run_isolated


def test_a_run_in_its_own_process_writes_its_record_and_a_finished_one_starts_none(tweet_dir, tmp_path, monkeypatch):
    config = RunConfig(model="fasttext", data=str(tweet_dir), max_examples=300, out=str(tmp_path), epochs=1)
    record = run_isolated(config)
    assert record == json.loads((config.run_dir() / "run.json").read_text())
    assert record["test"]["accuracy"] > 0.7
    (entry,) = json.loads((config.run_dir() / "ledger.json").read_text())
    assert entry["pid"] != os.getpid()  # it trained in another process
    monkeypatch.setattr("multiprocessing.get_context", lambda *_: pytest.fail("started a process for a finished run"))
    assert run_isolated(config) == record


def test_the_childs_error_is_the_one_an_in_process_run_raises(tmp_path):
    from minion_tf.runs.runner import run

    config = RunConfig(model="fasttext", data=str(tmp_path / "missing"), out=str(tmp_path), epochs=1)
    with pytest.raises(MinionError) as here:
        run(config)
    with pytest.raises(MinionError) as there:
        run_isolated(config)
    assert str(there.value) == str(here.value) and "missing" in str(here.value)

"""Tweet preparation: dedupe, splits, determinism, atomic outputs, and bad input via API and CLI."""
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minion_tf.data.prepare import PrepareConfig, is_prepared, prepare
from minion_tf.data.tweets import read_split
from minion_tf.errors import MinionError

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ("train.tsv", "val.tsv", "test.tsv", "stats.json")


def competition_dir(path: Path, pos: list[str], neg: list[str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "train_pos.txt").write_text("".join(t + "\n" for t in pos))
    (path / "train_neg.txt").write_text("".join(t + "\n" for t in neg))
    return path


def numbered(path: Path, n: int = 100) -> Path:
    return competition_dir(path, [f"good tweet {i}" for i in range(n)], [f"bad tweet {i}" for i in range(n)])


def read_rows(out: Path) -> dict[str, list[tuple[str, int]]]:
    """(text, label) rows of each prepared split, in file order."""
    rows = {}
    for name in ("train", "val", "test"):
        texts, labels = read_split(out / f"{name}.tsv")
        rows[name] = list(zip(texts, labels.tolist()))
    return rows


def test_dedupe_on_normalised_text_and_conflicting_labels(tmp_path):
    pos = ["good day", "good day", "@a great #ilovethislab", "@b great  #ilovethislab", "same text", "unique pos"]
    neg = ["bad day", "same text", "same &amp; text", "same text", "unique neg", "&nbsp;"]
    source = competition_dir(tmp_path / "src", pos, neg)
    stats = prepare(source, tmp_path / "out", PrepareConfig(split=(0.6, 0.2, 0.2)))
    assert stats["read"] == {"rows": 12, "labels": {"0": 6, "1": 6}}
    assert stats["removed"] == {
        "duplicates": 2, "conflicting_texts": 1, "conflicting_rows": 3, "empty_after_normalising": 1
    }
    assert stats["after_dedupe"] == {"rows": 6, "labels": {"0": 3, "1": 3}}
    assert sorted(sum(read_rows(tmp_path / "out").values(), [])) == [
        ("<user> great i love this lab", 1), ("bad day", 0), ("good day", 1),
        ("same & text", 0), ("unique neg", 0), ("unique pos", 1),
    ]
    assert [s["rows"] for s in stats["splits"].values()] == [4, 1, 1]


def test_split_sizes_and_cap(tmp_path):
    source = numbered(tmp_path / "src")
    stats = prepare(source, tmp_path / "all")
    assert [s["rows"] for s in stats["splits"].values()] == [160, 20, 20]
    stats = prepare(source, tmp_path / "cap", PrepareConfig(max_examples=50))
    assert [s["rows"] for s in stats["splits"].values()] == [40, 5, 5]
    assert stats["after_dedupe"]["rows"] == 200 and stats["written"]["rows"] == 50
    for name, rows in read_rows(tmp_path / "cap").items():
        assert stats["splits"][name]["labels"]["1"] == sum(y for _, y in rows)
    assert len(set(sum(read_rows(tmp_path / "cap").values(), []))) == 50


def test_same_seed_gives_identical_bytes_whatever_the_input_order(tmp_path):
    pos = [f"good tweet {i} #happydays" for i in range(60)]
    neg = [f"bad tweet {i} @someone" for i in range(60)]
    a = prepare(competition_dir(tmp_path / "a", pos, neg), tmp_path / "out_a", PrepareConfig(seed=3))
    b = prepare(competition_dir(tmp_path / "b", pos[::-1], neg[::-1]), tmp_path / "out_b", PrepareConfig(seed=3))
    assert a["splits"] == b["splits"]
    again = prepare(tmp_path / "a", tmp_path / "out_again", PrepareConfig(seed=3))
    for name in OUTPUTS:
        assert (tmp_path / "out_a" / name).read_bytes() == (tmp_path / "out_again" / name).read_bytes()
    other = prepare(tmp_path / "a", tmp_path / "out_other", PrepareConfig(seed=4))
    assert other["splits"]["train"]["sha256"] != a["splits"]["train"]["sha256"]
    first, second = read_rows(tmp_path / "out_a"), read_rows(tmp_path / "out_other")
    assert first["train"] != second["train"]
    assert sorted(sum(first.values(), [])) == sorted(sum(second.values(), []))


def test_outputs_are_tab_free_and_complete(tmp_path):
    pos, neg = [f"a\ttab {i}" for i in range(10)], [f"b\u2028sep {i}" for i in range(10)]
    source = competition_dir(tmp_path / "src", pos, neg)
    stats = prepare(source, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(OUTPUTS)  # no temporary files left
    texts, _ = read_split(tmp_path / "out" / "train.tsv")
    assert all("\t" not in t and "\u2028" not in t for t in texts)
    assert stats == json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["words_per_text"] == {"p50": 3.0, "p90": 3.0, "p95": 3.0, "p99": 3.0, "max": 3}


def test_is_prepared_tracks_config_source_and_outputs(tmp_path):
    source, out = numbered(tmp_path / "src"), tmp_path / "out"
    config = PrepareConfig(seed=1)
    assert not is_prepared(out, config, source)
    prepare(source, out, config)
    assert is_prepared(out, config, source)
    assert is_prepared(out, PrepareConfig(seed=1, split=[0.8, 0.1, 0.1]), source)
    assert not is_prepared(out, PrepareConfig(seed=2), source)
    with (out / "val.tsv").open("a") as f:
        f.write("extra\t1\n")
    assert not is_prepared(out, config, source)
    prepare(source, out, config)
    with (source / "train_pos.txt").open("a") as f:
        f.write("a new tweet\n")
    assert not is_prepared(out, config, source)


def test_bad_input_leaves_an_earlier_preparation_intact(tmp_path):
    source, out = numbered(tmp_path / "src"), tmp_path / "out"
    prepare(source, out)
    before = {name: (out / name).read_bytes() for name in OUTPUTS}
    (source / "train_neg.txt").write_bytes(b"fine\nbad \xe9 byte\n")
    with pytest.raises(MinionError, match=re.escape(f"{source / 'train_neg.txt'}:2: byte 0xe9 is not UTF-8")):
        prepare(source, out)
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before


def test_unwritable_output_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(MinionError, match=re.escape(f"{tmp_path / 'file' / 'out'}: cannot write there: ")):
        prepare(numbered(tmp_path / "src"), tmp_path / "file" / "out")


def test_too_few_examples_for_the_split(tmp_path):
    source = competition_dir(tmp_path / "src", ["a", "b", "c"], ["d", "e"])
    message = "5 examples after dedupe are too few for split (0.8, 0.1, 0.1): val would be empty"
    with pytest.raises(MinionError, match=re.escape(message)):
        prepare(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"split": (0.8, 0.1)}, "split"),
        ({"split": (0.5, 0.1, 0.1)}, "split"), ({"split": (0.0, 0.5, 0.5)}, "split"),
        ({"max_examples": 0}, "max_examples"), ({"label_map": {}}, "label_map"),
        ({"label_map": {"pos": "1"}}, "label_map"),
    ],
)
def test_config_validates_itself(kwargs, field):
    with pytest.raises(MinionError, match=f"^PrepareConfig.{field}: "):
        PrepareConfig(**kwargs)


def test_real_sentiment140_in_seconds(shared_data, tmp_path):
    start = time.perf_counter()
    stats = prepare(shared_data / "tweets" / "sentiment140", tmp_path / "out", PrepareConfig(max_examples=1000))
    assert time.perf_counter() - start < 20
    assert stats["read"] == {"rows": 90000, "labels": {"0": 45000, "1": 45000}}
    assert stats["removed"]["duplicates"] > 1000 and stats["removed"]["conflicting_texts"] > 0
    assert [s["rows"] for s in stats["splits"].values()] == [800, 100, 100]
    texts, labels = read_split(tmp_path / "out" / "train.tsv")
    assert not any(re.search(r"(?<!\w)@\w|(?<!\w)#[A-Za-z]|https?://", t) for t in texts)
    assert sum("<user>" in t for t in texts) > 200 and set(labels.tolist()) == {0, 1}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "data_prep" / "prepare_tweets.py"), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )


def test_cli_prepares_and_reports(tmp_path):
    pos, neg = [f"good {i}" for i in range(20)] + ["good 0"], [f"bad {i}" for i in range(20)]
    source = competition_dir(tmp_path / "src", pos, neg)
    result = run_cli("--source", str(source), "--out", str(tmp_path / "out"), "--max-examples", "30")
    assert result.returncode == 0, result.stderr
    assert "removed 1 duplicates" in result.stdout and "train: 24" in result.stdout
    assert str(tmp_path / "out") in result.stdout
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["written"]["rows"] == 30


@pytest.mark.parametrize(
    "files, args, where, what",
    [
        ({"t.csv": b""}, [], "t.csv:1", "empty file"),
        ({"t.csv": b"tweet,label\na,1\n"}, [], "t.csv:1", "no column 'text'; found columns 'tweet', 'label'"),
        ({"t.csv": b"text,label\na,1\nb,4\n"}, [], "t.csv:3", "label '4' is not one of '0', '1'"),
        ({"t.csv": b"text,label\na,1\nb,0\n"}, ["--label-map=-1:0,1:1"], "t.csv:3",
         "label '0' is not one of '-1', '1'"),
        ({"t.tsv": b"text\tlabel\na\t1\n\xff\t0\n"}, [], "t.tsv:3", "byte 0xff is not UTF-8"),
        ({"train_pos.txt": b"a\n\nb\n", "train_neg.txt": b"c\n"}, [], "train_pos.txt:2", "empty text"),
        ({"train_pos.txt": b"a\n", "train_neg.txt": b""}, [], "train_neg.txt:1", "empty file"),
        ({"train_pos.txt": b"a\n", "train_neg.txt": b"ok\n\xc3(\n"}, [], "train_neg.txt:2",
         "byte 0xc3 is not UTF-8"),
    ],
)
def test_cli_bad_input_gives_one_line_and_exit_2(tmp_path, files, args, where, what):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    source = tmp_path / next(iter(files)) if len(files) == 1 else tmp_path
    result = run_cli("--source", str(source), "--out", str(tmp_path / "out"), *args)
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / where}: {what}\n"
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()

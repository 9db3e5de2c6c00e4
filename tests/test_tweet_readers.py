"""Tweet normalisation and the tweet readers, on small files and the real competition test file."""
import re

import numpy as np
import pytest

from minion_tf.data.text import normalize_tweet
from minion_tf.data.tweets import (
    read_competition_dir,
    read_labelled_table,
    read_split,
    read_test_data,
    read_text,
)
from minion_tf.errors import MinionError


def test_hashtags_are_split_into_words():
    assert normalize_tweet("#ilovethislab") == "i love this lab"
    assert normalize_tweet("so sad #camerafail today") == "so sad camera fail today"
    assert normalize_tweet("#i_love_it #FML") == "i love it fml"


def test_hashtag_edge_cases_lose_no_text():
    assert normalize_tweet("#___ and #café") == "___ and #café"
    assert normalize_tweet("C# is fun, f##king #") == "C# is fun, f##king #"
    assert normalize_tweet("#ilovethislab", split_hashtags=False) == "#ilovethislab"


def test_handles_and_urls_are_anonymised():
    text = "@bob_1 see http://t.co/x, HTTPS://a.b/c?d=1 and www.site.com (mail me@x.org)"
    assert normalize_tweet(text) == "<user> see <url> <url> and <url> (mail me@x.org)"
    assert normalize_tweet(text, anonymise=False) == " ".join(text.split())
    text = "@a@b_2: Wildhttp://bit.ly/x awww... @ home @#tag http:// ..."
    assert normalize_tweet(text) == "<user> <user> : Wild <url> awww... @ home <user> <url> ..."


def test_entities_and_whitespace():
    assert normalize_tweet("  &quot;hi&quot; &amp;\tyou\u2028there\x85 ") == '"hi" & you there'


def test_competition_test_file_keeps_its_markers(shared_data):
    ids, texts = read_test_data(shared_data / "cil_test" / "test_data.txt")
    assert ids.dtype == np.int64 and ids.tolist() == list(range(1, 10001))
    assert normalize_tweet(texts[1]) == texts[1]  # "<user> shucks well i work all week ..."
    assert texts[1].startswith("<user> shucks well")
    assert normalize_tweet("<user> #followback please . <url>") == "<user> follow back please . <url>"


def test_test_data_splits_on_the_first_comma(tmp_path):
    path = tmp_path / "test_data.txt"
    path.write_text("1,a, b, c\n2,d\n")
    ids, texts = read_test_data(path)
    assert ids.tolist() == [1, 2] and texts == ["a, b, c", "d"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("1,a\n2 no comma\n", ":2: expected 'id,tweet', found no comma"),
        ("1,a\nx7,b\n", ":2: id 'x7' is not an integer"),
        ("1,a\n1,b\n", ":2: id 1 already on line 1"),
        ("1,a\n2,  \n", ":2: empty text"),
    ],
)
def test_test_data_errors(tmp_path, content, message):
    path = tmp_path / "test_data.txt"
    path.write_text(content)
    with pytest.raises(MinionError, match=f"^{re.escape(f'{path}{message}')}$"):
        read_test_data(path)


def test_competition_dir(tmp_path):
    (tmp_path / "train_pos.txt").write_text("good, yes\r\nfine\n")
    (tmp_path / "train_neg.txt").write_text("bad\u2028still one tweet")  # no final newline
    texts, labels = read_competition_dir(tmp_path)
    assert texts == ["bad\u2028still one tweet", "good, yes", "fine"]
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 1]


def test_competition_dir_missing_files_say_where_to_look(tmp_path):
    (tmp_path / "train_pos.txt").write_text("good\n")
    with pytest.raises(MinionError, match="missing train_neg.txt.*tweets/sentiment140"):
        read_competition_dir(tmp_path)
    with pytest.raises(MinionError, match="missing train_neg_full.txt, train_pos_full.txt"):
        read_competition_dir(tmp_path, full=True)


def test_real_sentiment140_layout(shared_data):
    texts, labels = read_competition_dir(shared_data / "tweets" / "sentiment140")
    assert len(texts) == 90000 and int(labels.sum()) == 45000


def test_csv_honours_quotes_and_label_map(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('id,label,text\n1,-1,"a, b"\n2,1,"say ""hi""\nthere"\n')
    texts, labels = read_labelled_table(path, label_map={"-1": 0, "1": 1})
    assert texts == ["a, b", 'say "hi"\nthere'] and labels.tolist() == [0, 1]


def test_tsv_keeps_quotes_as_text(tmp_path):
    for name in ("t.tsv", "t.txt", "tab-separated.csv"):
        path = tmp_path / name
        path.write_text('\ufefftext\tlabel\n"quoted" start\t1\n')
        texts, labels = read_labelled_table(path)
        assert texts == ['"quoted" start'] and labels.tolist() == [1]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("t.csv", "text,score\na,1\n", ":1: no column 'label'; found columns 'text', 'score'"),
        ("t.csv", "text,label\na,1\nb,2\n", ":3: label '2' is not one of '0', '1'"),
        ("t.csv", "text,label\na,1\n ,0\n", ":3: empty text"),
        ("t.csv", "text,label\na,1\n\nb,0\n", ":3: empty line"),
        ("t.csv", "text,label\na,1,x\n", ":2: 3 fields, the header has 2"),
        ("t.csv", "text,label\n", ":2: no rows after the header"),
        ("t.tsv", "text\tlabel\na\t1\nb\t-1\n", ":3: label '-1' is not one of '0', '1'"),
        ("t.json", "text,label\na,1\n", ": unknown table type '.json'; expected .csv, .tsv or .txt"),
    ],
)
def test_table_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(MinionError, match=f"^{re.escape(f'{path}{message}')}$"):
        read_labelled_table(path)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", ":1: empty file"),
        (b" \n\n", ":1: empty file"),
        (b"ok\nfine\nbad \xff byte\n", ":3: byte 0xff is not UTF-8"),
    ],
)
def test_empty_and_non_utf8_files(tmp_path, data, message):
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    with pytest.raises(MinionError, match=f"^{re.escape(f'{path}{message}')}$"):
        read_text(path)


def test_missing_file(tmp_path):
    with pytest.raises(MinionError, match="nope.txt: no such file$"):
        read_test_data(tmp_path / "nope.txt")


def test_read_split(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('text\tlabel\n"a" b\t1\nc\t0\n')
    texts, labels = read_split(path)
    assert texts == ['"a" b', "c"] and labels.dtype == np.int64 and labels.tolist() == [1, 0]
    path.write_text("text\tlabel\na\tb\t1\n")
    with pytest.raises(MinionError, match=":2: 3 tab-separated fields, expected 2"):
        read_split(path)
    path.write_text("sentence\tlabel\na\t1\n")
    with pytest.raises(MinionError, match=re.escape(":1: header is 'sentence\\tlabel'")):
        read_split(path)

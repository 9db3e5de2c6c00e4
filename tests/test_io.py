"""minion_tf.io: whole-or-absent writes, one line for a full disk, folder locks across processes."""
import errno
import json
import shutil
import subprocess
import sys
import textwrap
import threading
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from minion_tf.errors import MinionError
from minion_tf.io import check_free_space, folder_lock, temporary_path, write_bytes, write_json

ROOT = Path(__file__).resolve().parents[1]


def leftovers(folder: Path) -> list[Path]:
    return list(Path(folder).glob(".tmp-*"))


def test_writes_replace_the_file_whole_and_leave_no_temporary(tmp_path):
    path = tmp_path / "record.json"
    write_json(path, {"b": 1, "a": [1, 2]})
    write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2} and not leftovers(tmp_path)


def test_temporary_path_keeps_the_suffix_and_is_unique(tmp_path):
    with temporary_path(tmp_path / "side.weights.h5") as first, temporary_path(tmp_path / "side.weights.h5") as second:
        assert first.name.endswith(".side.weights.h5") and first != second and first.parent == tmp_path
        first.write_bytes(b"one")
        second.write_bytes(b"two")
    assert (tmp_path / "side.weights.h5").read_bytes() == b"one" and not leftovers(tmp_path)


def test_a_failed_write_removes_its_temporary_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(3))
    with pytest.raises(KeyboardInterrupt):
        with temporary_path(path) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert np.load(path).tolist() == [0, 1, 2] and not leftovers(tmp_path)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   OSError("Not enough free space to write 184590336 bytes after offset 128")])
def test_a_full_disk_is_one_line_naming_folder_and_space(tmp_path, error):
    with pytest.raises(MinionError) as caught:
        with temporary_path(tmp_path / "shard.npy", size=3 * 2**20) as tmp:
            tmp.write_bytes(b"partial")
            raise error
    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: disk full writing shard.npy (needs 3.0 MiB, ") and " free" in message
    assert "\n" not in message and not leftovers(tmp_path) and not (tmp_path / "shard.npy").exists()


def test_other_errors_pass_through(tmp_path):
    with pytest.raises(PermissionError):
        with temporary_path(tmp_path / "x") as tmp:
            tmp.write_bytes(b"x")
            raise PermissionError(errno.EACCES, "denied")
    assert not leftovers(tmp_path)


def test_check_free_space_refuses_in_one_line(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 * 2**20, 0, 5 * 2**20))
    check_free_space(tmp_path / "not" / "yet", 4 * 2**20, "the cache", "stream")
    with pytest.raises(MinionError, match=r"the cache needs about 6\.0 MiB, only 5\.0 MiB free; stream$"):
        check_free_space(tmp_path / "not" / "yet", 6 * 2**20, "the cache", "stream")


HOLDER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from minion_tf.io import folder_lock
    with folder_lock({folder!r}):
        print("held", flush=True)
        sys.stdin.read()   # until the test closes our stdin
""")


def hold(folder: Path) -> subprocess.Popen:
    """Another process that holds `folder` until its stdin is closed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(ROOT), folder=str(folder))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n"
    return proc


def test_a_held_folder_fails_at_once_with_the_holders_pid(tmp_path):
    holder = hold(tmp_path / "run")
    try:
        with pytest.raises(MinionError) as caught:
            with folder_lock(tmp_path / "run", hint="use another --out"):
                pass
    finally:
        holder.communicate("")
    assert str(caught.value) == (f"{tmp_path / 'run'} is in use by another process (pid {holder.pid}); "
                                 "wait for it or use another --out")
    with folder_lock(tmp_path / "run"):  # free again once the holder is gone
        pass


def test_waiting_for_a_held_folder_says_so_in_one_line_then_gets_it(tmp_path, capfd):
    holder = hold(tmp_path / "cache")
    threading.Timer(1.0, holder.stdin.close).start()  # the other builder finishes a second later
    with folder_lock(tmp_path / "cache", wait=True):
        err = capfd.readouterr().err
    holder.wait()
    assert err == f"{tmp_path / 'cache'} is in use by another process (pid {holder.pid}); waiting for it\n"


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from minion_tf.io import write_bytes
    for _ in range(200):
        write_bytes({path!r}, {byte!r} * 200_000)
""")


def test_two_processes_writing_one_file_never_collide(tmp_path):
    path = tmp_path / "shared.bin"
    write_bytes(path, b"0" * 200_000)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path), byte=b)],
                                stderr=subprocess.PIPE, text=True) for b in (b"a", b"b")]
    while any(w.poll() is None for w in writers):
        data = path.read_bytes()
        assert len(data) == 200_000 and len(set(data)) == 1  # always one writer's whole file
    assert [w.wait() for w in writers] == [0, 0], [w.stderr.read() for w in writers]
    assert path.read_bytes()[:1] in (b"a", b"b") and not leftovers(tmp_path)

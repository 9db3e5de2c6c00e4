"""Files that are whole or absent, folders used by one process at a time (no TensorFlow here).

Every write goes to a temporary name beside its target, unique to the process and call
(`.tmp-PID-RANDOM.NAME`: it keeps the target's suffix, so libraries that pick a format by
suffix, such as Keras' `.weights.h5`, still do), is flushed to disk, then renamed over the
target: a reader, or another process writing the same file, never sees half a file. A
failed write removes its temporary file; a full disk becomes one line naming the folder and
the space (`MinionError`).

Example:
    >>> write_json(run_dir / "run.json", record)
    >>> with temporary_path(run_dir / "side.weights.h5") as tmp:
    ...     model.save_weights(str(tmp))
    >>> with folder_lock(run_dir, hint="use another --out"):   # a second process gets one line
    ...     train()
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from minion_tf.errors import MinionError

LOCK_FILE = ".lock"


def size_text(n: float) -> str:
    """Bytes for a person: "1.1 TiB", "1.5 GiB", "20.0 MiB", "512 B"."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def free_bytes(folder: Path) -> int:
    """Free space on the disk that holds `folder` (or its nearest existing parent)."""
    folder = Path(folder).absolute()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_free_space(folder: Path, needed: int, what: str, hint: str) -> None:
    """Refuse in one line when `what` (about `needed` bytes) would not fit in `folder`."""
    free = free_bytes(folder)
    if needed > free:
        raise MinionError(f"{folder}: {what} needs about {size_text(needed)}, only {size_text(free)} free; {hint}")


def is_disk_full(err: BaseException) -> bool:
    """ENOSPC / EDQUOT, or numpy's preallocation failure (an OSError without an errno)."""
    return isinstance(err, OSError) and (err.errno in (errno.ENOSPC, errno.EDQUOT)
                                         or "not enough free space" in str(err).lower())


def disk_full(path: Path, needed: int | None = None) -> MinionError:
    """The one line for a write of `path` that ran out of space (free space measured now)."""
    path = Path(path)
    need = f"needs {size_text(needed)}, " if needed else ""
    return MinionError(f"{path.parent}: disk full writing {path.name} ({need}{size_text(free_bytes(path.parent))} "
                       "free); free some space or write to another disk")


@contextmanager
def temporary_path(path: Path, size: int | None = None) -> Iterator[Path]:
    """A unique temporary path for a library that writes by path; renamed to `path` when the block ends.

    `size` (bytes, if known) goes into the disk-full message.
    """
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}.{path.name}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if is_disk_full(err):
            raise disk_full(path, size) from None
        raise


def write_bytes(path: Path, data: bytes) -> None:
    with temporary_path(path, len(data)) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj, indent: int | None = 1, sort_keys: bool = True) -> None:
    write_text(path, json.dumps(obj, indent=indent, sort_keys=sort_keys) + "\n")


@contextmanager
def folder_lock(folder: Path, wait: bool = False, hint: str = "") -> Iterator[None]:
    """Hold `folder` (an flock on its `.lock` file, released when the block ends or the process dies).

    When another process holds it: `wait=False` raises one line, "FOLDER is in use by another
    process (pid N); wait for it or HINT"; `wait=True` prints that it waits, then waits. Once held,
    temporary files that killed writers left in the folder are removed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            busy = f"{folder} is in use by another process (pid {f.read().strip() or '?'})"
            if not wait:
                raise MinionError(f"{busy}; wait for it" + (f" or {hint}" if hint else "")) from None
            print(f"{busy}; waiting for it", file=sys.stderr, flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
        for leftover in folder.glob(".tmp-*"):  # of a process killed mid-write: no one else writes here now
            leftover.unlink(missing_ok=True)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)

"""Hidden-state cache: every state of a frozen encoder, float16 (or int8), ragged, in checksummed shards.

A cache directory holds one split's states and nothing about its labels: relabelled data
reuses it, and the labels come from the caller when a dataset is made. Its ``manifest.json``
records what the states depend on (encoder, weights and tokenizer fingerprints, max length,
dtype, the digest of the texts), the number of examples and tokens, and each finished shard
with its sha256. Shards are ``shard-NNNNN.states.npy`` (tokens, S, d) with only real tokens
(no padding) and ``shard-NNNNN.index.npy`` (examples, 2): example id, length.

``dtype="int8"`` stores each token's state as int8 with one float16 scale per token and state
(``shard-NNNNN.scales.npy``, (tokens, S)): x = q * scale, scale = max |x| / 127 over the d values.
That is S * (d + 2) bytes a token against float16's S * 2d, a little over half; reading dequantises
to float16, so the side networks see the same type either way.

A killed build resumes at the next shard; a cache of another encoder, tokenizer, max length
or texts is refused with one line, and one of an older format is rebuilt (saying so in one
line); checksums are verified when a cache is opened. One process builds a cache at a time
(a lock in its folder): another one building the same cache waits for it, then opens the
finished cache. Or several workers build it together (`worker=(i, n)`, a folder they share):
each writes the shards i, i + n, ... and lists them in its own ``manifest.worker-I.json``;
worker 0 verifies every shard, then writes ``manifest.json`` as one process would have (the
cache is byte-identical); the others wait for it. A worker that died leaves its shards
unbuilt, and the next run builds only those. A caller that has tokenised the texts already passes its `TokenSplit` (or id
arrays) as `tokens`, so the texts are tokenised once.

Example:
    >>> split = TokenSplit.from_texts(backbone.tokenizer, texts, labels, max_length=64)
    >>> cache = build_cache(backbone, texts, "cache/train", max_length=64, tokens=split)
    >>> ds = cache.dataset(256, split.labels, seed=0)   # ({"states", "mask"}, label) batches
"""
from __future__ import annotations

import hashlib
import json
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minion_tf.batching import batch_dataset, pad_batch
from minion_tf.errors import MinionError
from minion_tf.io import folder_lock, temporary_path, write_json

FORMAT_VERSION = 2  # 1 stored each example's label in the index (and hashed labels into the data digest)
DTYPE = "float16"
DTYPES = ("float16", "int8")  # how a cache stores the states


def data_digest(texts, pairs=None) -> str:
    """Digest of the texts (and optional second texts) a cache was made from; labels play no part."""
    h = hashlib.sha256()
    if pairs is not None:  # pairs are encoded with segment ids (caches of pairs made before are not reused)
        h.update(b"segments\x00")
    for i, text in enumerate(texts):
        h.update(text.encode("utf-8"))
        if pairs is not None:
            h.update(b"\x01" + pairs[i].encode("utf-8") + b"\x01")
    return h.hexdigest()[:16]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _save_npy(path: Path, array: np.ndarray) -> str:
    """Write `array` whole or not at all; return the file's sha256."""
    with temporary_path(path, array.nbytes) as tmp:
        np.save(tmp, array)
    return file_sha256(path)


@dataclass
class CacheSpec:
    """What a cache's contents depend on; two caches are interchangeable iff their specs are equal."""

    identity: dict
    max_length: int
    data: str
    dtype: str = DTYPE
    format: int = FORMAT_VERSION

    def as_dict(self) -> dict:
        return {"identity": self.identity, "max_length": self.max_length, "data": self.data,
                "dtype": self.dtype, "format": self.format}

    @property
    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def mismatch(self, other: dict) -> str | None:
        """A phrase naming the first difference from another cache's spec, or None."""
        mine = self.as_dict()
        checks = [("encoder", lambda d: d["identity"].get("encoder")),
                  ("encoder weights", lambda d: d["identity"].get("weights")),
                  ("tokenizer", lambda d: d["identity"].get("tokenizer")),
                  ("compute dtype", lambda d: d["identity"].get("compute_dtype", "float32")),
                  ("states", lambda d: d["identity"].get("states", "all")),
                  ("max length", lambda d: d.get("max_length")),
                  ("dtype", lambda d: d.get("dtype")),
                  ("format", lambda d: d.get("format")),
                  ("data", lambda d: d.get("data"))]
        for what, get in checks:
            try:
                theirs = get(other)
            except (KeyError, AttributeError, TypeError):
                theirs = None
            if theirs != get(mine):
                return f"{what} {theirs!r}, expected {get(mine)!r}"
        return None


@dataclass
class ShardPlan:
    """Examples of one shard, in length order, and the forward batches that produce them."""

    index: int
    batches: list = field(default_factory=list)

    @property
    def examples(self) -> np.ndarray:
        return np.concatenate(self.batches)


def plan_shards(lengths: np.ndarray, num_states: int, model_dim: int, batch_tokens: int = 16384,
                shard_mb: float = 256.0, dtype: str = DTYPE) -> list[ShardPlan]:
    """Deterministic plan: length-sorted forward batches of at most `batch_tokens` padded tokens,
    grouped into shards of about `shard_mb` MiB of states as `dtype` stores them."""
    order = np.argsort(lengths, kind="stable")
    token_bytes = bytes_per_token(num_states, model_dim, dtype)
    shards, current, shard_bytes, start = [], ShardPlan(0), 0, 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end - start + 1) * int(lengths[order[end]]) <= batch_tokens:
            end += 1
        batch = order[start:end]
        current.batches.append(batch)
        shard_bytes += int(lengths[batch].sum()) * token_bytes
        start = end
        if shard_bytes >= shard_mb * 2**20:
            shards.append(current)
            current, shard_bytes = ShardPlan(len(shards)), 0
    if current.batches:
        shards.append(current)
    return shards


def bytes_per_token(num_states: int, model_dim: int, dtype: str = DTYPE) -> int:
    """Bytes one real token takes in a cache: every state of it, float16 (BERTweet-base: 13 x 768 x 2), or
    int8 with a float16 scale per state (13 x (768 + 2))."""
    return num_states * (model_dim * 2 if dtype == "float16" else model_dim + 2)


def estimate_bytes(num_tokens: int, num_states: int, model_dim: int, dtype: str = DTYPE) -> int:
    """Bytes of a cache holding `num_tokens` real tokens (the floor: states only)."""
    return int(num_tokens) * bytes_per_token(num_states, model_dim, dtype)


def quantize(states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 values, float16 scales) of float states (..., d): one scale per vector, max |x| / 127.

    Example:
        >>> q, scale = quantize(np.array([[0.5, -1.0, 0.25]], np.float16))   # q [[64, -127, 32]], scale [1/127]
        >>> dequantize(q, scale)                                               # within scale / 2 of the states
    """
    x = np.asarray(states, np.float32)
    scale = (np.abs(x).max(axis=-1) / 127.0).astype(np.float16)
    safe = np.where(scale > 0, scale.astype(np.float32), 1.0)[..., None]
    return np.clip(np.rint(x / safe), -127, 127).astype(np.int8), scale


def dequantize(values: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """float16 states from `quantize`'s int8 values (..., d) and scales (...)."""
    return (values.astype(np.float32) * scales.astype(np.float32)[..., None]).astype(np.float16)


class HiddenStateCache:
    """A finished cache opened for reading (memory-mapped shards)."""

    def __init__(self, directory: Path, manifest: dict):
        self.directory = Path(directory)
        self.manifest = manifest
        self.num_states = manifest["num_states"]
        self.model_dim = manifest["model_dim"]
        self._states, self._scales, ids, lengths, shard_of, offset = [], [], [], [], [], []
        for shard in manifest["shards"]:
            states = np.load(self.directory / shard["states"], mmap_mode="r")
            if "scales" in shard:  # int8
                self._scales.append(np.load(self.directory / shard["scales"], mmap_mode="r"))
            index = np.load(self.directory / shard["index"])
            starts = np.concatenate([[0], np.cumsum(index[:, 1])[:-1]])
            self._states.append(states)
            ids.append(index[:, 0])
            lengths.append(index[:, 1])
            shard_of.append(np.full(len(index), len(self._states) - 1))
            offset.append(starts)
        order = np.argsort(np.concatenate(ids)) if ids else np.zeros(0, dtype=np.int64)
        # Row i of these arrays describes example i of the split, whatever shard holds it.
        self.lengths = np.concatenate(lengths)[order] if ids else np.zeros(0, np.int64)
        self._shard = np.concatenate(shard_of)[order] if ids else np.zeros(0, np.int64)
        self._offset = np.concatenate(offset)[order] if ids else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.lengths)

    def states(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Padded (states (B, S, T, d) float16, mask (B, T) int32) of the given examples, in their order.

        Each example is one contiguous block of its shard, copied once, transposed, into the zeroed
        batch: 1.4-3.3x faster than one fancy-index gather per shard (`benchmarks/cache.py`).
        """
        rows = np.asarray(rows)
        lengths = self.lengths[rows]
        width = int(lengths.max())
        out = np.zeros((len(rows), self.num_states, width, self.model_dim), dtype=np.float16)
        blocks = zip(self._shard[rows].tolist(), self._offset[rows].tolist(), lengths.tolist())
        for b, (shard, start, n) in enumerate(blocks):
            block = self._states[shard][start:start + n]
            if self._scales:
                block = dequantize(block, self._scales[shard][start:start + n])
            out[b, :, :n] = block.transpose(1, 0, 2)
        mask = (np.arange(width) < lengths[:, None]).astype(np.int32)
        return out, mask

    def dataset(self, batch_size: int, labels, seed: int | None = None, with_rows: bool = False,
                first_epoch: int = 0):
        """({"states", "mask"}, label) batches, length-bucketed; see `batching.batch_dataset`.

        `labels` are the split's, in example order (class ids, or the float scores of a regression):
        the cache holds none, so one cache serves any labelling of its texts.
        """
        import tensorflow as tf

        labels = np.asarray(labels)
        if labels.shape != (len(self),):
            raise MinionError(f"{self.directory}: labels of shape {labels.shape} for a cache of {len(self)} examples")
        labels = labels if labels.dtype.kind == "f" else labels.astype(np.int64)
        x_spec = {"states": tf.TensorSpec((None, self.num_states, None, self.model_dim), tf.float16),
                  "mask": tf.TensorSpec((None, None), tf.int32)}
        return batch_dataset(lambda rows: dict(zip(("states", "mask"), self.states(rows))), self.lengths,
                             labels, batch_size, x_spec, seed, with_rows, first_epoch)


def _read_manifest(directory: Path) -> dict | None:
    path = directory / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MinionError(f"{path}: unreadable manifest (not JSON); delete {directory} to rebuild") from None
    if not (isinstance(manifest, dict) and isinstance(manifest.get("spec"), dict)
            and isinstance(manifest.get("shards"), list)):
        raise MinionError(f"{path}: not a cache manifest (no spec or shards); delete {directory} to rebuild")
    return manifest


def _older_format(manifest: dict) -> int | None:
    """The format of a cache an older version of this package wrote, or None."""
    found = manifest["spec"].get("format")
    return found if isinstance(found, int) and found < FORMAT_VERSION else None


def _verify_shard(directory: Path, shard: dict) -> str | None:
    for key in _shard_files(shard):
        path = directory / shard[key]
        if not path.exists():
            return f"{path}: missing"
        if path.stat().st_size != shard[key + "_bytes"]:
            return f"{path}: truncated ({path.stat().st_size} of {shard[key + '_bytes']} bytes)"
        if file_sha256(path) != shard[key + "_sha256"]:
            return f"{path}: checksum mismatch (corrupt)"
    return None


def _shard_files(shard: dict) -> tuple[str, ...]:
    """The keys of a shard entry's files: states and index, and an int8 cache's scales."""
    return ("states", "index", "scales") if "scales" in shard else ("states", "index")


def open_cache(directory: str | Path, spec: CacheSpec | None = None, verify: bool = True) -> HiddenStateCache:
    """Open a finished cache; refuse one made from another spec; verify every shard's sha256."""
    directory = Path(directory)
    manifest = _read_manifest(directory)
    if manifest is None:
        raise MinionError(f"{directory}: no hidden-state cache here (manifest.json missing)")
    if _older_format(manifest) is not None:
        raise MinionError(f"{directory}: cache of format {_older_format(manifest)} (labels in its index), this "
                          f"version reads format {FORMAT_VERSION}; rebuild it (rerun the command) or delete it")
    if spec is not None:
        _check_spec(directory, spec, manifest)
    if not manifest.get("complete"):
        raise MinionError(f"{directory}: cache build did not finish; rerun the same command to resume it")
    if verify:
        for shard in manifest["shards"]:
            problem = _verify_shard(directory, shard)
            if problem:
                raise MinionError(f"{problem}; delete {directory} to rebuild the cache")
    return HiddenStateCache(directory, manifest)


class _ShardWriter:
    """Writes finished shards in a background thread so the encoder never waits on the disk."""

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while (job := self.jobs.get()) is not None:
            if self.error is None:  # after a failure (a full disk), write no further shard
                try:
                    job()
                except BaseException as err:  # re-raised in the builder's thread
                    self.error = err

    def submit(self, job):
        if self.error:
            raise self.error
        self.jobs.put(job)

    def close(self):
        self.jobs.put(None)
        self.thread.join()
        if self.error:
            raise self.error


def build_cache(backbone, texts, directory: str | Path, max_length: int, batch_tokens: int = 16384,
                shard_mb: float = 256.0, progress: bool = True, pairs=None, tokens=None,
                dtype: str = DTYPE, worker: tuple[int, int] | None = None) -> HiddenStateCache:
    """Build (or resume, or just open) the cache of one split's hidden states (no labels: see `dataset`).

    The encoder runs on length-sorted batches (almost no padding); only real tokens are stored.
    `pairs` are the second texts of sentence pairs, encoded with the first as the tokenizer joins
    them. `tokens` are the texts already tokenised by this backbone's tokenizer at `max_length`
    (a `TokenSplit`, or one id array per text): then the texts are not tokenised again. `dtype` is how
    the states are stored (`DTYPES`: float16, or int8 with a scale per token and state). While
    another process builds the same cache, this one waits for it (saying so in one line).
    `worker=(i, n)` builds worker i's share of the shards with n workers (see the module docstring).
    """
    directory = Path(directory)
    if dtype not in DTYPES:
        raise MinionError(f"cache dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    spec = CacheSpec(identity=backbone.identity(), max_length=max_length, data=data_digest(texts, pairs), dtype=dtype)
    seqs = None if tokens is None else _given_tokens(directory, tokens, len(texts), backbone, max_length)
    manifest = _read_manifest(directory)
    if (manifest is not None and manifest.get("complete") and _older_format(manifest) is None
            and not _intact_shards(directory, spec, manifest)[1]):
        cache = HiddenStateCache(directory, manifest)
    elif worker is not None and worker[1] > 1:
        cache = _build(backbone, texts, pairs, seqs, directory, spec, batch_tokens, shard_mb, progress, worker)
    else:
        with folder_lock(directory, wait=True):
            cache = _build(backbone, texts, pairs, seqs, directory, spec, batch_tokens, shard_mb, progress)
    if seqs is not None and not np.array_equal(cache.lengths, [len(s) for s in seqs]):
        raise MinionError(f"{directory}: the given tokens' lengths differ from the cached ones (tokenised "
                          f"another way?); pass tokens=None to let the cache tokenise the texts")
    return cache


def _given_tokens(directory: Path, tokens, num_texts: int, backbone, max_length: int) -> list:
    """The id arrays of `tokens` (a TokenSplit or a list), refused in one line if they cannot be the texts'."""
    seqs = getattr(tokens, "seqs", tokens)
    made_with = {"max length": (getattr(tokens, "max_length", None), max_length),
                 "tokenizer": (getattr(tokens, "fingerprint", None), backbone.tokenizer.fingerprint)}
    for what, (theirs, mine) in made_with.items():
        if theirs is not None and theirs != mine:
            raise MinionError(f"{directory}: tokens were made with {what} {theirs!r}, the cache's is {mine!r}")
    if len(seqs) != num_texts:
        raise MinionError(f"{directory}: {len(seqs)} tokenised examples for {num_texts} texts")
    if any(len(s) > max_length for s in seqs):
        raise MinionError(f"{directory}: tokens longer than max length {max_length} (tokenised for another length?)")
    return seqs


def _check_spec(directory: Path, spec: CacheSpec, manifest: dict) -> None:
    """Refuse, in one line, a cache made from another spec (encoder, tokenizer, max length, data...)."""
    why = spec.mismatch(manifest["spec"])
    if why:
        raise MinionError(f"{directory}: cache was built with {why}; use another --cache-dir or delete it")


def _remove_shards(directory: Path, manifest: dict) -> None:
    """Delete the shard files a manifest lists (only plain names inside `directory`)."""
    for shard in manifest["shards"]:
        for key in _shard_files(shard) if isinstance(shard, dict) else ():
            name = shard.get(key)
            if isinstance(name, str) and name == Path(name).name and name.startswith("shard-"):
                (directory / name).unlink(missing_ok=True)


def _intact_shards(directory: Path, spec: CacheSpec, manifest: dict) -> tuple[dict, list[str]]:
    """({shard index: entry} of the shards that verify, problems of the others); refuses another spec."""
    _check_spec(directory, spec, manifest)
    done, problems = {}, []
    for shard in manifest["shards"]:
        problem = _verify_shard(directory, shard)
        if problem is None:
            done[shard["shard"]] = shard
        else:
            problems.append(problem)
    return done, problems


def _build(backbone, texts, pairs, seqs, directory: Path, spec: CacheSpec, batch_tokens: int, shard_mb: float,
           progress: bool, worker: tuple[int, int] | None = None) -> HiddenStateCache:
    """`build_cache` once this process holds the folder (what is there may have changed while it waited), or
    as one of `worker[1]` workers building it together."""
    import tensorflow as tf
    from tqdm.auto import tqdm

    max_length = spec.max_length
    manifest = _read_manifest(directory)
    done, damaged = {}, set()
    if manifest is not None and _older_format(manifest) is not None and worker is not None:
        raise MinionError(f"{directory}: cache of format {_older_format(manifest)} (labels in its index); workers "
                          "do not rebuild it together: rerun once without --strategy multiworker, or delete it")
    if manifest is not None and _older_format(manifest) is not None:
        print(f"{directory}: cache of format {_older_format(manifest)} (labels in its index); rebuilding it in "
              f"format {FORMAT_VERSION}", file=sys.stderr, flush=True)
        _remove_shards(directory, manifest)
        manifest = None
    if manifest is not None:
        done, problems = _intact_shards(directory, spec, manifest)
        if manifest.get("complete") and not problems:
            return HiddenStateCache(directory, manifest)
        if problems:
            print(f"{problems[0]}: rebuilding {len(problems)} damaged shard(s)", file=sys.stderr)
            damaged = {s["shard"] for s in manifest["shards"]} - set(done)
    if seqs is None:
        seqs = backbone.tokenizer.encode(texts, max_length, pairs=pairs)
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    if len(seqs) == 0:
        raise MinionError(f"{directory}: no examples to cache")
    plan = plan_shards(lengths, backbone.num_states, backbone.model_dim, batch_tokens, shard_mb, spec.dtype)
    plan_digest = hashlib.sha256(b"".join(s.examples.tobytes() for s in plan)).hexdigest()[:16]
    if manifest is not None and manifest.get("plan") != plan_digest:
        done = {}  # shards of another batch/shard size hold other examples: start over
    manifest = {"spec": spec.as_dict(), "config_hash": spec.config_hash, "encoder": backbone.name,
                "tokenizer": backbone.tokenizer.name, "max_length": max_length, "dtype": spec.dtype,
                "num_states": backbone.num_states, "model_dim": backbone.model_dim,
                "num_examples": len(seqs), "num_tokens": int(lengths.sum()), "num_shards": len(plan), "plan": plan_digest,
                "shards": [done[i] for i in sorted(done)], "complete": False}
    listing = directory / "manifest.json"
    if worker is not None:  # this worker's own list; shards other workers (or an earlier run) finished count
        listing = directory / f"manifest.worker-{worker[0]}.json"
        directory.mkdir(parents=True, exist_ok=True)
        done.update(_worker_shards(directory, spec, plan_digest, len(plan), verified=done))
        manifest["shards"] = [done[i] for i in sorted(done) if i % worker[1] == worker[0]]
    write_json(listing, manifest)

    # No autograph: the encoder has no tensor-valued Python control flow, and converting its ~145 functions
    # cost each build 12 s of a tiny READ run's 39 s (cProfile, loaded machine; 25 s without).
    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)] * 2, autograph=False)
    def forward(ids, mask):
        return tf.cast(backbone.hidden_states(ids, mask), tf.float16)

    todo = [s for s in plan if s.index not in done and (worker is None or s.index % worker[1] == worker[0])]
    bar = tqdm(total=int(sum(lengths[s.examples].sum() for s in todo)), unit="tok", unit_scale=True,
               desc=f"caching {directory.name}", disable=not progress)
    writer = _ShardWriter()
    lock = threading.Lock()

    def finish(shard: ShardPlan, states: np.ndarray, index: np.ndarray):
        name = f"shard-{shard.index:05d}"
        if not np.isfinite(states).all():  # inf in float16 (overflow), or NaN: no side network learns from it
            token = int(np.flatnonzero(~np.isfinite(states).reshape(len(states), -1).all(axis=1))[0])
            example = int(index[np.searchsorted(np.cumsum(index[:, 1]), token, side="right"), 0])
            raise MinionError(f"{directory}: the encoder gave non-finite states for example {example} (float16 "
                              f"overflow, or broken weights?); {name} and the shards after it are not written")
        arrays = {"states": states, "index": index}
        if spec.dtype == "int8":
            arrays["states"], arrays["scales"] = quantize(states)
        entry = {"shard": shard.index, "examples": len(index), "tokens": len(states),
                 **{key: f"{name}.{key}.npy" for key in arrays}}
        for key, array in arrays.items():
            entry[key + "_sha256"] = _save_npy(directory / entry[key], array)
            entry[key + "_bytes"] = (directory / entry[key]).stat().st_size
        with lock:
            manifest["shards"].append(entry)
            manifest["shards"].sort(key=lambda s: s["shard"])
            write_json(listing, manifest)

    try:
        for shard in todo:
            rows = shard.examples
            states = np.empty((int(lengths[rows].sum()), backbone.num_states, backbone.model_dim), np.float16)
            at = 0
            for batch in shard.batches:
                ids, mask = pad_batch([seqs[i] for i in batch], backbone.tokenizer.pad_id)
                out = forward(ids, mask).numpy()  # (B, S, T, d)
                for b, row in enumerate(batch):
                    n = int(lengths[row])
                    states[at:at + n] = out[b, :, :n].transpose(1, 0, 2)
                    at += n
                bar.update(int(mask.sum()))
            index = np.stack([rows, lengths[rows]], axis=1).astype(np.int64)
            writer.submit(lambda shard=shard, states=states, index=index: finish(shard, states, index))
    finally:
        writer.close()
        bar.close()
    if worker is not None:
        return _finish_together(directory, spec, manifest, plan_digest, worker, done, damaged)
    manifest["complete"] = True
    write_json(directory / "manifest.json", manifest)
    return open_cache(directory, spec, verify=False)


def _worker_shards(directory: Path, spec: CacheSpec, plan: str, num_shards: int, verified: dict) -> dict:
    """{shard index: entry} of the shards the workers' lists give for this plan that verify (checked once:
    those in `verified` are not read again); a list of another spec is refused."""
    found = {}
    for path in sorted(directory.glob("manifest.worker-*.json")):
        try:
            listing = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            continue  # being replaced right now: read it on the next look
        if not isinstance(listing, dict) or listing.get("plan") != plan or not isinstance(listing.get("shards"), list):
            continue  # a list of another plan (batch or shard size): its shards hold other examples
        _check_spec(directory, spec, listing)
        for entry in listing["shards"]:
            index = entry.get("shard") if isinstance(entry, dict) else None
            if isinstance(index, int) and 0 <= index < num_shards and index not in verified and index not in found:
                if _verify_shard(directory, entry) is None:
                    found[index] = entry
    return found


def _finish_together(directory: Path, spec: CacheSpec, manifest: dict, plan: str, worker: tuple[int, int],
                     verified: dict, damaged: set):
    """Worker 0: wait until every shard is listed and verified, then write manifest.json as one process would
    have. The others: wait for that manifest (when a finished cache had `damaged` shards, its manifest stays
    as it was: wait until they verify again). Either gives up in one line after `MINION_WORKER_TIMEOUT`
    seconds (default 600) without a new shard."""
    from minion_tf.distribute import worker_timeout

    timeout = worker_timeout()
    done = {**verified, **{e["shard"]: e for e in manifest["shards"]}}  # checked already, or written here
    last, seen, heard = time.monotonic(), -1, set()  # heard: the workers whose list this one has seen
    while True:
        heard |= {p.name[len("manifest.worker-"):-len(".json")] for p in directory.glob("manifest.worker-*.json")}
        if worker[0] == 0:
            done.update(_worker_shards(directory, spec, plan, manifest["num_shards"], verified=done))
            if len(done) == manifest["num_shards"]:
                merged = {**manifest, "shards": [done[i] for i in sorted(done)], "complete": True}
                write_json(directory / "manifest.json", merged)
                for path in [*directory.glob("manifest.worker-*.json"), *directory.glob(".tmp-*.shard-*")]:
                    path.unlink(missing_ok=True)  # every shard is written: what is left was a killed worker's
                return open_cache(directory, spec, verify=False)
            count = len(done)
        else:
            found = _read_manifest(directory)
            if (found is not None and found.get("complete") and found.get("plan") == plan
                    and not any(_verify_shard(directory, e) for e in found["shards"] if e.get("shard") in damaged)):
                (directory / f"manifest.worker-{worker[0]}.json").unlink(missing_ok=True)  # written after the merge
                return open_cache(directory, spec, verify=False)
            count = 0
            for path in directory.glob("manifest.worker-*.json"):
                try:
                    count += len(json.loads(path.read_text()).get("shards", []))
                except (OSError, ValueError):
                    pass  # removed by worker 0's merge, or being replaced: the manifest comes next
        if count != seen:
            seen, last = count, time.monotonic()
        elif time.monotonic() - last > timeout:
            missing = sorted(set(range(manifest["num_shards"])) - set(done)) if worker[0] == 0 else []
            what = (f"shards {', '.join(map(str, missing[:5]))}{' ...' if len(missing) > 5 else ''} (of workers "
                    f"{', '.join(str(w) for w in sorted({i % worker[1] for i in missing}))}) did not appear"
                    if missing else "the merged manifest did not appear")
            silent = [str(w) for w in range(worker[1]) if str(w) not in heard]
            why = (f"worker {', '.join(silent)} wrote nothing in this folder: not started, stopped, or --cache-dir "
                   "is not on a file system every worker shares." if silent else "a worker stopped?")
            raise MinionError(f"{directory}: {what} within {timeout:g} s; {why} Rerun every worker to build the "
                              "missing shards")
        time.sleep(0.5)


"""One run in a fresh Python process, so a suite's later runs do not carry its earlier runs' memory.

TensorFlow keeps what a run allocated (graphs, its allocator's pools, the cache's arrays) after the run,
so a suite that ran its methods one after another in one process measured every later run's memory on
top of its predecessors' (a "startup" phase of up to 5.8 GiB). `run_isolated` starts each run in its
own spawned process, which inherits the environment (`process.setup_command`'s settings) and nothing
else; the record it returns is the run.json the child wrote.

Example:
    >>> from minion_tf.runs.config import RunConfig
    >>> record = run_isolated(RunConfig(model="fasttext", max_examples=300))  # doctest: +SKIP
"""
from __future__ import annotations

import json
import multiprocessing
import sys

from minion_tf.errors import MinionError
from minion_tf.runs.config import RunConfig


def run_isolated(config: RunConfig) -> dict:
    """`runner.run(config)` in a spawned process (each seed in its own); the child's one-line error is raised
    here, as it was. A finished run is read back here, with no process started."""
    if config.seeds > 1:
        from minion_tf.runs.runner import run_seeds

        return run_seeds(config, run_one=run_isolated)
    record_path = config.run_dir() / "run.json"
    if record_path.is_file():
        print(f"already finished: {record_path}")
        return json.loads(record_path.read_text())
    context = multiprocessing.get_context("spawn")
    errors, child_errors = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(config, child_errors), name=config.label())
    child.start()
    child_errors.close()
    try:
        child.join()
    except KeyboardInterrupt:  # Ctrl-C reached the child too: let it finish its checkpoint and go
        child.join()
        raise
    if child.exitcode == 130:
        raise KeyboardInterrupt
    if child.exitcode == 2 and errors.poll():
        raise MinionError(errors.recv())
    if child.exitcode != 0:
        raise MinionError(f"run {config.label()} ({config.run_dir()}) died in its own process "
                          f"(exit code {child.exitcode}); rerun to resume it")
    return json.loads((config.run_dir() / "run.json").read_text())


def _child(config: RunConfig, errors) -> None:
    from minion_tf.runs.runner import run  # imported here: the parent need not load TensorFlow

    try:
        run(config)
    except MinionError as error:
        errors.send(str(error))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)

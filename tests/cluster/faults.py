"""Deterministic SIGKILLs inside cluster processes, armed by a test at a point it names.

Loaded on every worker with `dask worker --preload tests.cluster.faults`; inert until `arm` is run
on one worker (`client.run(arm, point, k, workers=[address])`).  The process then kills itself with
SIGKILL, as a host that loses power would die, at the k-th occurrence of `point`:

    start   a task has just begun executing: nothing of it is written
    write   an output's bytes are written but not committed (a temp file, an unfinished upload)
    commit  an output is committed but its done marker is not yet written

`arm_scheduler` kills the scheduler the same way after the k-th task result reaches it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin

from pipeline.core import atomic

POINTS = ("start", "write", "commit")
_armed: dict[str, int] = {}  # point -> occurrences left before the kill


def _reached(point: str) -> None:
    if point not in _armed:
        return
    _armed[point] -= 1
    if _armed[point] == 0:
        os.kill(os.getpid(), signal.SIGKILL)


def arm(point: str, k: int) -> None:
    """Kill this process at the k-th `point` from now."""
    if point not in POINTS or k < 1:
        raise ValueError(f"unknown fault {point}:{k}")
    _armed[point] = k


# Patched before any task imports the pipeline, so `from pipeline.core.atomic import mark_done`
# binds the wrapper too; inert until armed.
_sink, _mark_done = atomic.atomic_sink, atomic.mark_done


@contextlib.contextmanager
def _atomic_sink(final: Any) -> Iterator[Any]:
    with _sink(final) as sink:
        yield sink
        _reached("write")


def _mark_done_after_kill_point(path: Any) -> None:
    _reached("commit")
    _mark_done(path)


atomic.atomic_sink = _atomic_sink
atomic.mark_done = _mark_done_after_kill_point


class _TaskStarts(WorkerPlugin):
    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish == "executing":
            _reached("start")


async def dask_setup(worker: Any) -> None:
    await worker.plugin_add(_TaskStarts(), name="yuliao-faults")


class _SchedulerDiesAfter(SchedulerPlugin):
    def __init__(self, k: int) -> None:
        self.left = k

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if finish == "memory":
            self.left -= 1
            if self.left == 0:
                os.kill(os.getpid(), signal.SIGKILL)


def arm_scheduler(k: int, dask_scheduler: Any = None) -> None:
    """Kill the scheduler once the k-th task result from now has reached it."""
    dask_scheduler.add_plugin(_SchedulerDiesAfter(k), name="yuliao-faults")

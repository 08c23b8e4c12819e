"""A pool of spawned worker processes, each reached through its own pipe by the thread using it.

Why not ``concurrent.futures.ProcessPoolExecutor``: every call there passes through two helper
threads of the node process (the queue manager, which hands the call on and later reads the
result, and the queue's feeder, which pickles and writes it), each woken for every call. At a
hub taking 50+ documents a second those wake-ups compete for the GIL with the threads doing the
real work (strace counted hundreds of futex calls per document). Here the calling thread takes
an idle worker, writes its call, waits on the reply with the GIL released, and gives the worker
back: no helper thread.

A worker that dies (killed, out of memory) fails the call in flight with ``WorkerLost`` and is
replaced at once; the others go on. One found dead while idle is replaced before it is used. A
worker's own exception travels back and is raised in the caller. ``close`` stops them all; a
node killed outright leaves no orphan: each worker reads end-of-file on its pipe and exits.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any


class WorkerLost(Exception):
    """The worker handling the call stopped before answering (it was replaced)."""


@dataclass
class _Worker:
    process: Any  # multiprocessing's SpawnProcess
    conn: Connection


def _serve(conn: Connection, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    """A worker's life: initialise once, then answer calls until told to stop or orphaned."""
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the node is gone
            return
        if message is None:
            return
        fn, args = message
        try:
            reply = (True, fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            reply = (False, exc)
        conn.send(reply)


class WorkerPool:
    def __init__(self, size: int, initializer: Callable[..., None] | None = None,
                 initargs: tuple = ()) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._initializer, self._initargs = initializer, initargs
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(size):  # started now, each importing what it needs in parallel
            self._idle.put(self._start())

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._all]

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_serve, daemon=True, name="edoc-worker",
                                    args=(child, self._initializer, self._initargs))
        process.start()
        child.close()
        worker = _Worker(process, parent)
        with self._lock:
            self._all.append(worker)
        return worker

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in an idle worker (waiting for one if all are busy)."""
        if self._closed:
            raise RuntimeError("worker pool closed")
        worker = self._idle.get()
        while not worker.process.is_alive():  # died while idle: replaced, not blamed on a call
            self._replace(worker)
            worker = self._idle.get()
        try:
            worker.conn.send((fn, args))
            ok, value = worker.conn.recv()
        except (EOFError, OSError) as exc:
            self._replace(worker)
            raise WorkerLost(f"worker {worker.process.pid} stopped: {exc!r}") from exc
        except BaseException:
            # interrupted between send and reply: the worker's state is unknown
            self._replace(worker)
            raise
        self._idle.put(worker)
        if not ok:
            raise value
        return value

    def _replace(self, worker: _Worker) -> None:
        worker.conn.close()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        with self._lock:
            self._all.remove(worker)
            closed = self._closed
        if not closed:
            self._idle.put(self._start())

    def close(self) -> None:
        """Stop every worker: idle ones are told to, busy ones are killed after a grace."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()

"""One writer for the whole process: write jobs queued, run in batches, one commit each.

SQLite lets one connection write at a time, and a connection that finds the database locked
sleeps with growing back-off before it tries again — under load, tens to hundreds of
milliseconds a write. So every write of the service (position updates, each tick's audit
batch, requests created or cancelled) goes through one :class:`DbWriter` thread: nothing in
the process ever waits on the database lock, and the jobs waiting at one moment share one
transaction and one commit (group commit). Each job runs in its own SAVEPOINT: a job that
fails is rolled back alone and its caller gets the error; the others are committed. A
caller that needs the result waits on the job's future; one that does not (the control
loop's audit batch) does not wait at all, and the order of the queue is the order of the
audit chain.

PostgreSQL gains the same batching (fewer commits); its row locks make the single writer
unnecessary but harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from clearway.errors import StorageError
from clearway.storage.db import write_session

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Most jobs committed together.
MAX_BATCH = 500
#: Longest a caller waits for its job by default (s).
WAIT_S = 30.0
#: Pause between two attempts while the database is unavailable (s).
RETRY_S = 0.5
#: Attempts at the backlog left when the writer is stopped during an outage.
STOP_ATTEMPTS = 10
#: Durable jobs kept at most while it is (the newest beyond are dropped and counted).
MAX_BACKLOG = 100_000


@dataclass(frozen=True, slots=True)
class _Job:
    fn: Callable[[Session], Any] | None
    future: Future[Any]
    #: For a grouped job: how items of its kind are written together, and its item.
    group: Callable[[Session, list[Any]], list[Any]] | None = None
    item: Any = None
    #: For an awaited job: its asyncio future and loop (answered once per batch per loop).
    afuture: asyncio.Future[Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    #: Kept and written again after a failed commit (nobody waits for it: the control loop's
    #: audit batches), instead of failing.
    durable: bool = False


class DbWriter:
    """A thread that runs write jobs in batches, each batch in one transaction.

    Parameters
    ----------
    sessions
        Where to write.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._backlog: list[_Job] = []
        #: Backlog jobs taken out for the attempt in progress.
        self._retrying = 0
        #: Durable jobs dropped because the backlog was full (count; 0 unless an outage
        #: outlasted :data:`MAX_BACKLOG` jobs).
        self.dropped = 0
        #: Batches committed, jobs run, batches whose commit failed (counts).
        self.batches = 0
        self.jobs = 0
        self.failed_batches = 0

    def start(self) -> DbWriter:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="clearway-db-writer", daemon=True
                )
                self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Run what is queued, then stop. Idempotent."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def submit(self, fn: Callable[[Session], T], *, durable: bool = False) -> Future[T]:
        """Queue ``fn(session)``; its future holds the result once committed (or the error).

        ``durable``: should the database be unavailable, the job is kept (in order, before
        anything queued after it) and written again every :data:`RETRY_S` until it commits —
        for writes nobody waits for and that must not be lost (the control loop's audit
        batches). Jobs that are not durable fail at once, so their callers can say so.

        Raises
        ------
        StorageError
            The writer is not running.
        """
        if self._thread is None:
            raise StorageError("the database writer is not running (the service is stopping)")
        fut: Future[T] = Future()
        self._queue.put(_Job(fn, fut, durable=durable))
        return fut

    @property
    def backlog(self) -> int:
        """Durable jobs waiting for the database to come back, those being tried again now
        included (count): 0 only once all of them are committed."""
        return len(self._backlog) + self._retrying

    def submit_item(self, write: Callable[[Session, list[Any]], list[T]], item: Any) -> Future[T]:
        """Queue one item of a kind written many at a time: consecutive queued items with the
        same ``write`` go to one ``write(session, items)`` call, which returns one result
        per item, in order (a position update's rows and audit records, say, in a handful of
        statements for hundreds of updates). If the call fails, every item of it fails."""
        if self._thread is None:
            raise StorageError("the database writer is not running (the service is stopping)")
        fut: Future[T] = Future()
        self._queue.put(_Job(None, fut, write, item))
        return fut

    def submit_item_async(
        self, write: Callable[[Session, list[Any]], list[T]], item: Any
    ) -> asyncio.Future[T]:
        """:meth:`submit_item` for a caller on an event loop: an asyncio future, resolved
        together with the others of its batch in one call to the loop (waking a loop is
        what costs, at thousands of writes a second)."""
        if self._thread is None:
            raise StorageError("the database writer is not running (the service is stopping)")
        loop = asyncio.get_running_loop()
        afut: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(None, Future(), write, item, afut, loop))
        return afut

    def run(self, fn: Callable[[Session], T], timeout_s: float = WAIT_S) -> T:
        """Queue ``fn(session)`` and wait for its commit; its exception is raised here."""
        return self.wait(self.submit(fn), timeout_s)

    @staticmethod
    def wait(fut: Future[T], timeout_s: float = WAIT_S) -> T:
        """The result of a queued write once committed; its exception is raised here."""
        try:
            return fut.result(timeout_s)
        except TimeoutError:
            raise StorageError(
                f"the database did not confirm a write within {timeout_s:.0f} s"
            ) from None

    # -- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        left_on_stop = STOP_ATTEMPTS
        while not stopping or self._backlog:
            if stopping:
                left_on_stop -= 1
                if left_on_stop < 0:
                    log.error(
                        "stopping with %d audit write(s) the database never took",
                        len(self._backlog),
                    )
                    self.dropped += len(self._backlog)
                    return
            if self._backlog:
                # The database failed: try again after a pause, the backlog first.
                time.sleep(RETRY_S)
                jobs = self._backlog[:MAX_BATCH]
                self._retrying = len(jobs)
                del self._backlog[:MAX_BATCH]
            else:
                first = self._queue.get()
                if first is None:
                    break
                jobs = [first]
            while len(jobs) < MAX_BATCH and not stopping:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                jobs.append(nxt)
            self._write(jobs)
            self._retrying = 0

    def _write(self, jobs: list[_Job]) -> None:
        results: list[tuple[_Job, Any, BaseException | None]] = []
        # A job back from the backlog is running already; a new one may have been cancelled.
        live = [
            job for job in jobs if job.future.running() or job.future.set_running_or_notify_cancel()
        ]
        runs = _runs(live)
        # A run alone in its transaction needs no savepoint: if it fails, the transaction
        # is rolled back whole, which is the same. Two statements fewer per batch — and
        # under a paced load most batches are one run of position updates.
        alone = len(runs) == 1
        try:
            with write_session(self.sessions) as s:
                for run, fn in runs:
                    try:
                        if alone:
                            values = fn(s)
                        else:
                            with s.begin_nested():  # this run alone is rolled back if it fails
                                values = fn(s)
                        results += [(x, v, None) for x, v in zip(run, values, strict=True)]
                    except (OperationalError, InterfaceError):
                        raise  # the database, not the job: the whole batch failed
                    except Exception as exc:
                        if alone:
                            raise _RunFailed(exc) from exc
                        results += [(x, None, exc) for x in run]
        except _RunFailed as failed:
            self.jobs += len(live)
            _answer([(x, None, failed.error) for x in live])
            return
        except (StorageError, SQLAlchemyError) as exc:
            self.failed_batches += 1
            keep = [job for job in live if job.durable]
            log.error(
                "could not commit %d database write(s) (%d kept to write again): %s",
                len(jobs), len(keep), exc,
            )  # fmt: skip
            self._backlog[:0] = keep
            self._retrying = 0  # back in the backlog (counted there, never twice for long)
            if len(self._backlog) > MAX_BACKLOG:
                self.dropped += len(self._backlog) - MAX_BACKLOG
                del self._backlog[MAX_BACKLOG:]
            err = exc if isinstance(exc, StorageError) else StorageError(
                f"the database is not available ({type(exc).__name__}); try again shortly"
            )  # fmt: skip
            _answer([(job, None, err) for job in jobs if not job.durable])
            return
        self.batches += 1
        self.jobs += len(results)
        _answer(results)


class _RunFailed(Exception):
    """The one run of a batch failed: its transaction is rolled back, its jobs get
    ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _runs(live: list[_Job]) -> list[tuple[list[_Job], Callable[[Session], list[Any]]]]:
    """The batch as runs: each ungrouped job alone, consecutive items of one kind together,
    each with the call that writes it and returns one result per job."""
    out: list[tuple[list[_Job], Callable[[Session], list[Any]]]] = []
    i = 0
    while i < len(live):
        job = live[i]
        if job.group is None:
            run = [job]
            fn: Callable[[Session], list[Any]] = lambda s, f=job.fn: [f(s)]  # noqa: E731
        else:
            j = i
            while j < len(live) and live[j].group is job.group:
                j += 1
            run = live[i:j]
            items = [x.item for x in run]
            fn = lambda s, g=job.group, items=items: g(s, items)  # noqa: E731
        i += len(run)
        out.append((run, fn))
    return out


def _answer(results: list[tuple[_Job, Any, BaseException | None]]) -> None:
    """Resolve the jobs' futures: thread futures at once, asyncio ones in one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
    for job, value, exc in results:
        if job.afuture is not None and job.loop is not None:
            by_loop.setdefault(job.loop, []).append((job.afuture, value, exc))
        elif not job.future.done():
            if exc is None:
                job.future.set_result(value)
            else:
                job.future.set_exception(exc)
    for loop, answers in by_loop.items():
        # A loop that has closed has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, answers)


def _resolve(answers: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for fut, value, exc in answers:
        if fut.done():  # its caller gave up waiting
            continue
        if exc is None:
            fut.set_result(value)
        else:
            fut.set_exception(exc)

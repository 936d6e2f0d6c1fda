"""Re-runs of past requests started from the dashboard: one at a time, in the background.

A re-run (:func:`~clearway.replay.job.replay_request`) simulates the logged demand under
none, local and corridor — tens of seconds to minutes — in child processes, so the service
never waits for it: the request starts it, later reads poll it. One runs at a time (the
machine also runs the live twin); the others wait their turn. Kept in memory for the
service's run, the report files in ``out_dir``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from clearway.errors import ClearwayError

log = logging.getLogger(__name__)

#: Simulations at once for one re-run: one, beside the live twin on a small machine.
REPLAY_WORKERS = 1


@dataclass
class ReplayJob:
    """One re-run of a request: ``status`` queued → running → done | failed."""

    request_id: str
    out_dir: Path
    status: str = "queued"
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    report: dict[str, Any] | None = None
    figure: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """What the API answers (times unix s; the report as ``replay.json`` has it)."""
        return {
            "request_id": self.request_id,
            "status": self.status,
            "queued_at": self.queued_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "figure": self.figure is not None,
            "report": self.report,
        }


class ReplayJobs:
    """The re-runs of this service run, by request id (the latest per request).

    Parameters
    ----------
    sessions
        The service's database (the log read back and verified).
    out_dir
        Where each re-run writes its report (``<out_dir>/<request id>/``).
    """

    def __init__(self, sessions: sessionmaker[Session], out_dir: Path) -> None:
        self.sessions = sessions
        self.out_dir = out_dir
        self._jobs: dict[str, ReplayJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay")

    def start(self, request_id: str) -> tuple[ReplayJob, bool]:
        """The request's re-run, started now unless one is queued or running; (job, new?)."""
        with self._lock:
            job = self._jobs.get(request_id)
            if job is not None and job.status in ("queued", "running"):
                return job, False
            job = ReplayJob(request_id, self.out_dir / request_id)
            self._jobs[request_id] = job
        self._pool.submit(self._run, job)
        return job, True

    def get(self, request_id: str) -> ReplayJob | None:
        """The request's latest re-run, if one was started."""
        with self._lock:
            return self._jobs.get(request_id)

    def close(self) -> None:
        """Stop taking re-runs; one running finishes in the background."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: ReplayJob) -> None:
        from clearway.replay.job import replay_request

        job.status, job.started_at = "running", time.time()
        try:
            paths = replay_request(self.sessions, job.request_id, job.out_dir, workers=REPLAY_WORKERS)
            job.report = json.loads(paths["json"].read_text(encoding="utf-8"))
            job.figure = paths.get("figure")
            job.status = "done"
        except ClearwayError as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # a bug: the job says so, the service goes on
            log.exception("re-run of %s failed", job.request_id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished_at = time.time()


__all__ = ["REPLAY_WORKERS", "ReplayJob", "ReplayJobs"]

"""One job at a time: a queue with one worker thread, each job a list of events a page can follow.

Two tabs (or two clicks) never fight over the cores: `JobQueue.submit` appends a `Job` and the single
worker runs them in order. A job's `work(job)` is a generator of event dicts (see `nst_tf.serve.routes`);
the worker appends each to `job.events`, checks `job.cancelled` between events (so an optimisation stops
between two steps, the generator closed), and ends the list with exactly one of {"type": "done"},
{"type": "error", "message": one line} or {"type": "cancelled"}. An unexpected exception is logged with its
traceback on the server and reaches the page as one line; the worker goes on to the next job.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nst_tf.errors import NSTError

log = logging.getLogger(__name__)

FINAL = ("done", "error", "cancelled")


@dataclass
class Job:
    """A queued piece of work and what it has reported so far."""

    id: str
    route: str
    folder: Path
    work: Callable[[Job], Iterator[dict]]
    events: list[dict] = field(default_factory=list)
    cancelled: bool = False
    result: Path | None = None

    @property
    def state(self) -> str:
        """queued, running, or the final event's type."""
        if not self.events:
            return "queued"
        last = self.events[-1]["type"]
        return last if last in FINAL else "running"

    @property
    def finished(self) -> bool:
        return self.state in FINAL

    def add(self, event: dict) -> None:
        self.events.append(event)  # list.append is atomic under the GIL: readers see whole events


class JobQueue:
    """A FIFO of jobs and the one thread that runs them."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._pending: queue.Queue[Job | None] = queue.Queue()
        self.compute = threading.Lock()  # held while a job (or a thumbnail) computes: one thing at a time
        self._thread = threading.Thread(target=self._run, name="nst_tf-serve-worker", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Job:
        self.jobs[job.id] = job
        self._pending.put(job)
        return job

    def cancel(self, job: Job) -> None:
        """Ask a job to stop: a queued one never starts, a running one stops at its next event."""
        job.cancelled = True

    def close(self, timeout: float = 30.0) -> None:
        """Cancel every job and stop the worker (waiting up to `timeout` s for the current step)."""
        for job in list(self.jobs.values()):
            job.cancelled = True
        self._pending.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (job := self._pending.get()) is not None:
            if job.cancelled:
                job.add({"type": "cancelled"})
                continue
            job.add({"type": "started", "time": time.time()})
            with self.compute:
                job.add(self._execute(job))

    @staticmethod
    def _execute(job: Job) -> dict:
        """Run `job.work` to its end; returns the final event."""
        events = None
        try:
            events = job.work(job)
            for event in events:
                job.add(event)
                if job.cancelled:
                    return {"type": "cancelled"}
            return {"type": "done"}
        except NSTError as exc:
            return {"type": "error", "message": " ".join(str(exc).split())}
        except Exception as exc:  # the page gets one line, the server's log the traceback; the worker lives on
            log.exception("job %s failed", job.id)
            return {"type": "error", "message": f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"}
        finally:
            if hasattr(events, "close"):
                events.close()  # stops an optimisation between steps and frees what it holds

"""The one-job-at-a-time queue (nst_tf.serve.jobs): jobs never overlap, a cancelled job stops between two
events and a queued one never starts, a failure is one line and the worker goes on."""

from __future__ import annotations

import threading
import time

from nst_tf.errors import ConfigError
from nst_tf.serve.jobs import Job, JobQueue


def wait_for(job: Job, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not job.finished:
        assert time.monotonic() < deadline, job.events
        time.sleep(0.01)


def test_jobs_run_one_at_a_time_in_order(tmp_path):
    queue, spans, running = JobQueue(), [], threading.Semaphore(1)

    def work(job):
        assert running.acquire(blocking=False), "two jobs ran at once"
        began = time.monotonic()
        time.sleep(0.05)
        spans.append((job.id, began, time.monotonic()))
        running.release()
        yield {"type": "step", "iteration": 0}

    jobs = [queue.submit(Job(f"job{i}", "test", tmp_path, work)) for i in range(4)]
    for job in jobs:
        wait_for(job)
    queue.close()
    assert [span[0] for span in spans] == ["job0", "job1", "job2", "job3"]
    assert all(a[2] <= b[1] for a, b in zip(spans, spans[1:], strict=False))  # each began after the previous ended
    assert [job.events[-1] for job in jobs] == [{"type": "done"}] * 4


def test_a_cancelled_job_stops_between_steps_and_a_queued_one_never_starts(tmp_path):
    queue, gate, closed = JobQueue(), threading.Event(), []

    def endless(job):
        try:
            for i in range(10**6):
                gate.wait()
                yield {"type": "step", "iteration": i}
        finally:
            closed.append(job.id)  # the generator is closed, as an optimisation's would be

    def never(job):
        raise AssertionError("a cancelled queued job ran")
        yield

    first = queue.submit(Job("first", "test", tmp_path, endless))
    second = queue.submit(Job("second", "test", tmp_path, never))
    queue.cancel(second)
    gate.set()
    while len(first.events) < 5:
        time.sleep(0.001)
    queue.cancel(first)
    wait_for(first)
    wait_for(second)
    queue.close()
    assert first.events[-1] == {"type": "cancelled"} and len(first.events) < 10**6
    assert closed == ["first"]
    assert second.events == [{"type": "cancelled"}]


def test_a_failure_is_one_line_and_the_worker_goes_on(tmp_path):
    queue = JobQueue()

    def bad_input(job):
        raise ConfigError("the style picture is\n  missing")
        yield

    def broken(job):
        yield {"type": "step", "iteration": 0}
        raise RuntimeError("boom")

    def fine(job):
        yield {"type": "step", "iteration": 0}

    jobs = [queue.submit(Job(name, "test", tmp_path, work)) for name, work in
            (("a", bad_input), ("b", broken), ("c", fine))]  # fmt: skip
    for job in jobs:
        wait_for(job)
    queue.close()
    assert jobs[0].events[-1] == {"type": "error", "message": "the style picture is missing"}
    assert jobs[1].events[-1] == {"type": "error", "message": "internal error: RuntimeError: boom"}
    assert jobs[2].events[-1] == {"type": "done"}

"""Running a periodic job safely on several machines at once, and within bounds.

A shop that outgrows one machine runs the jobs' timer on each. Every job (payments sync,
close-expired, and any sweep added later) follows one pattern:

    with exclusive("reconcile") as ours:
        if not ours:
            return  # another instance is running it right now
        ids = ...the rows to work on...
        counts, finished = bounded(ids, work, concurrency=4, deadline=180)

- ``exclusive(name)``: one run of a job at a time across every instance, so no row is
  queried, closed or refunded twice by concurrent runs. PostgreSQL: a session-level advisory
  lock (``pg_try_advisory_lock``) on a connection held for the run, outside any transaction;
  PostgreSQL frees it when the run ends or its connection drops (a crashed machine cannot hold
  it). Advisory locks belong to the whole database, so the key names the schema too: a
  deployment in another schema of the same database (or a test run beside this one) runs its
  jobs without waiting for ours. SQLite lives on one machine: an ``flock`` on a file beside
  the database, which the kernel frees when the process ends. An advisory lock, rather than
  row locks: a row lock held while WeChat answers would make that order's payment
  notification wait for it.
- ``bounded(ids, work, ...)``: ``work(id)`` in ``concurrency`` threads (each inside its own
  ``context()``: the CLI passes the app's ``app_context``, so each has its own session), none
  started after ``deadline`` seconds; each call is bounded by its own HTTP timeouts, so a slow
  WeChat cannot push the run past its systemd timeout.
"""

import fcntl
import hashlib
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import text

from ..extensions import db


@contextmanager
def exclusive(name):
    """True inside when this process runs job ``name``; False when another instance does."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            schema = connection.execute(text("SELECT current_schema()")).scalar()
            digest = hashlib.sha256(f"wxpay-job:{schema}:{name}".encode()).digest()
            key = int.from_bytes(digest[:8], "big", signed=True)
            ours = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
            ).scalar()
            try:
                yield ours
            finally:
                if ours:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return
    path = engine.url.database
    if not path or path == ":memory:":
        yield True  # a private database: nobody else can run against it
        return
    with open(f"{path}.{name}.lock", "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def bounded(ids, work, *, concurrency, deadline, context):
    """Run ``work(id)`` for each id, ``concurrency`` at a time, each inside ``context()``, none
    started after ``deadline`` seconds. ``work`` returns an outcome string. Returns
    ({outcome: count}, True when every id was worked on)."""
    stop_at = time.monotonic() + deadline

    def run(row_id):
        if time.monotonic() >= stop_at:
            return None  # left for the next run
        with context():
            return work(row_id)

    with ThreadPoolExecutor(concurrency) as pool:
        outcomes = list(pool.map(run, ids))
    counts = Counter(outcome for outcome in outcomes if outcome is not None)
    return dict(counts), None not in outcomes

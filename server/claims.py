"""Claiming rows for a periodic job, so that several instances can run it at once.

A shop that outgrows one machine runs the jobs' timer on each. ``sweep`` hands every matching
row to exactly one of the runs, in small batches, with bounded concurrency and a deadline:

    counts = sweep(Order, Order.status == Order.NOTPAY, Order.last_queried_at, query_one,
                   concurrency=4, deadline=180)

A claim is ONE statement, a compare-and-set on the row's ``claimed_at`` column:

    UPDATE t SET claimed_at = now
    WHERE id IN (SELECT id FROM t WHERE <condition>
                   AND (claimed_at IS NULL OR claimed_at < now - hold)
                 ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED)
    RETURNING id

- PostgreSQL: SKIP LOCKED makes a run pass over rows another run is claiming this instant
  instead of waiting for them; a row claimed and committed since the statement began fails
  the re-checked condition. The claim then keeps the row away from other runs for ``hold``.
- SQLite (one machine): one writer at a time, so each claim statement runs alone; FOR UPDATE
  is not rendered. Three runs at once still split the rows between them.

A row whose work fails is released (``claimed_at`` cleared) so that the next run retries it at
once; a crashed run's rows come back after ``hold``.
"""
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, update

from .extensions import db
from .models import utcnow

FAILED = "failed"


def claim(model, condition, claimed_at, limit, hold):
    """Ids of up to ``limit`` rows matching ``condition`` and not claimed within ``hold``
    (a timedelta), now claimed by the caller. Commits."""
    now = utcnow()
    candidates = (db.select(model.id)
                  .where(condition, or_(claimed_at.is_(None), claimed_at < now - hold))
                  .order_by(model.id).limit(limit)
                  .with_for_update(skip_locked=True))
    ids = db.session.execute(
        update(model).where(model.id.in_(candidates.scalar_subquery()))
        .values({claimed_at: now}).returning(model.id)
        .execution_options(synchronize_session=False)).scalars().all()
    db.session.commit()
    return sorted(ids)


def release(model, claimed_at, ids):
    """Give claimed rows back, so that the next run takes them up again."""
    if ids:
        db.session.execute(update(model).where(model.id.in_(ids)).values({claimed_at: None})
                           .execution_options(synchronize_session=False))
        db.session.commit()


def sweep(model, condition, claimed_at, work, *, concurrency, deadline,
          hold=timedelta(minutes=2)):
    """Claim rows ``concurrency`` at a time and run ``work(row_id)`` on each batch in as many
    threads (each in its own app context, so its own session), until no row is left or
    ``deadline`` seconds have passed: no batch starts after it, and each call of ``work`` is
    bounded by its own HTTP timeouts. ``work`` returns an outcome (a string); ``FAILED``
    releases the row. Returns ({outcome: count}, True when no row was left before the
    deadline). ``hold`` must exceed the longest call of ``work``."""
    app = current_app._get_current_object()
    stop_at = time.monotonic() + deadline
    counts = Counter()

    failed = []

    def run(row_id):
        with app.app_context():
            outcome = work(row_id)
        if outcome == FAILED:
            failed.append(row_id)
        return outcome

    finished = False
    with ThreadPoolExecutor(concurrency) as pool:
        while not finished and time.monotonic() < stop_at:
            ids = claim(model, condition, claimed_at, concurrency, hold)
            counts.update(pool.map(run, ids))
            finished = not ids
    release(model, claimed_at, failed)  # after the run: this run does not retry them
    return dict(counts), finished

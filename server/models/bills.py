"""Reconciliation: each Beijing day's comparison of WeChat's bills with our records."""

from ..extensions import db
from ..timeutil import utcnow


class ReconciliationRun(db.Model):
    """One comparison of a Beijing day's bill of one merchant with our records
    (``server/domain/bills.py``).

    One row per day and merchant (each merchant has its own bill): running the day again
    updates it, so the page shows the latest result. Totals are fen; ``*_wechat`` from the
    bill, ``*_ours`` from our orders and refunds with that merchant.
    """

    __tablename__ = "reconciliation_runs"

    CLEAN, DIFFERENCES, NO_BILL, FAILED = "CLEAN", "DIFFERENCES", "NO_BILL", "FAILED"

    id = db.Column(db.Integer, primary_key=True)
    day = db.Column(db.Date, nullable=False)
    mchid = db.Column(db.String(32), nullable=False)
    status = db.Column(db.String(16), nullable=False)
    trade_bill_sha1 = db.Column(db.String(40))
    fund_flow_bill_sha1 = db.Column(db.String(40))
    bill_rows = db.Column(db.Integer, nullable=False, default=0)
    payments_wechat = db.Column(db.Integer, nullable=False, default=0)  # count
    payments_ours = db.Column(db.Integer, nullable=False, default=0)
    paid_total_wechat = db.Column(db.Integer, nullable=False, default=0)  # fen
    paid_total_ours = db.Column(db.Integer, nullable=False, default=0)
    refunds_wechat = db.Column(db.Integer, nullable=False, default=0)
    refunds_ours = db.Column(db.Integer, nullable=False, default=0)
    refunded_total_wechat = db.Column(db.Integer, nullable=False, default=0)
    refunded_total_ours = db.Column(db.Integer, nullable=False, default=0)
    # Yuan exactly as the bill sums them (fees have 5 decimals, so they are not whole fen).
    fees_wechat = db.Column(db.String(24), nullable=False, default="0")
    # The trade bill as downloaded (hash checked), for the console's CSV and for a person.
    trade_bill = db.Column(db.Text)
    message = db.Column(db.String(500))
    started_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    finished_at = db.Column(db.DateTime(timezone=True))

    differences = db.relationship(
        "BillDifference", back_populates="run", order_by="BillDifference.id"
    )

    __table_args__ = (db.UniqueConstraint("day", "mchid"),)


class BillDifference(db.Model):
    """One thing WeChat's bill and our records disagree on, for a person to look at.

    ``key`` (kind + reference) is unique per day, so running a day again finds the same row
    instead of adding another, and a resolved difference stays resolved.
    """

    __tablename__ = "bill_differences"

    id = db.Column(db.Integer, primary_key=True)
    run_id = db.Column(
        db.Integer, db.ForeignKey("reconciliation_runs.id"), nullable=False, index=True
    )
    key = db.Column(db.String(128), nullable=False)
    kind = db.Column(db.String(32), nullable=False)
    out_trade_no = db.Column(db.String(32))
    out_refund_no = db.Column(db.String(64))
    ours = db.Column(db.String(200))
    wechat = db.Column(db.String(200))
    detail = db.Column(db.String(500))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    resolved_by = db.Column(db.String(64))
    resolved_at = db.Column(db.DateTime(timezone=True))
    note = db.Column(db.String(1000))

    run = db.relationship("ReconciliationRun", back_populates="differences")

    __table_args__ = (db.UniqueConstraint("run_id", "key"),)

"""Refunds and the users' refund requests."""

from ..extensions import db
from ..timeutil import isoformat, utcnow


class Refund(db.Model):
    """One refund intent: one ``out_refund_no``, sent to WeChat again on every retry.

    PENDING is ours: saved before WeChat was asked, so an intent whose answer got lost is
    retried with the same number. FAILED: WeChat refused it definitively (error_code says why).
    PROCESSING, SUCCESS, CLOSED and ABNORMAL are WeChat's own states.
    """

    __tablename__ = "refunds"

    PENDING, PROCESSING, SUCCESS = "PENDING", "PROCESSING", "SUCCESS"
    CLOSED, ABNORMAL, FAILED = "CLOSED", "ABNORMAL", "FAILED"

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, index=True)
    out_refund_no = db.Column(db.String(64), nullable=False, unique=True)
    amount = db.Column(db.Integer, nullable=False)  # fen
    reason = db.Column(db.String(80))
    requested_by = db.Column(db.String(64), nullable=False)
    approved_by = db.Column(db.String(64), nullable=False)
    status = db.Column(db.String(16), nullable=False, default=PENDING, index=True)
    refund_id = db.Column(db.String(64))  # WeChat's
    channel = db.Column(db.String(32))
    user_received_account = db.Column(db.String(128))
    error_code = db.Column(db.String(64))
    error_message = db.Column(db.String(255))
    attempts = db.Column(db.Integer, nullable=False, default=0)  # calls to WeChat's refund API
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    succeeded_at = db.Column(db.DateTime(timezone=True))
    last_queried_at = db.Column(db.DateTime(timezone=True))

    order = db.relationship("Order", viewonly=True)

    __table_args__ = (db.CheckConstraint("amount > 0", name="refund_amount_positive"),)

    def to_json(self):
        return {
            "id": self.id,
            "out_refund_no": self.out_refund_no,
            "amount": self.amount,
            "reason": self.reason,
            "status": self.status,
            "refund_id": self.refund_id,
            "channel": self.channel,
            "user_received_account": self.user_received_account,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "created_at": isoformat(self.created_at),
            "succeeded_at": isoformat(self.succeeded_at),
        }


class RefundRequest(db.Model):
    """A user's request for a refund, approved (a Refund is placed) or rejected by the shop.

    ``user_id`` is None for a web-shop guest's (the browser that placed the order asked: no
    account). One PENDING request per order, which the database holds to as well: the partial
    unique index, so a second request (a double click) cannot be inserted beside the first."""

    __tablename__ = "refund_requests"
    __table_args__ = (
        db.Index(
            "uq_refund_requests_one_pending",
            "order_id",
            unique=True,
            sqlite_where=db.text("status = 'PENDING'"),
            postgresql_where=db.text("status = 'PENDING'"),
        ),
    )

    PENDING, APPROVED, REJECTED = "PENDING", "APPROVED", "REJECTED"

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    reason = db.Column(db.String(200), nullable=False)
    status = db.Column(db.String(16), nullable=False, default=PENDING, index=True)
    decided_by = db.Column(db.String(64))
    decided_at = db.Column(db.DateTime(timezone=True))
    note = db.Column(db.String(200))
    refund_id = db.Column(db.Integer, db.ForeignKey("refunds.id"))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)

    def to_json(self):
        return {
            "id": self.id,
            "reason": self.reason,
            "status": self.status,
            "note": self.note,
            "refund_id": self.refund_id,
            "created_at": isoformat(self.created_at),
            "decided_at": isoformat(self.decided_at),
        }

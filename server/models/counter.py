"""The counter (payment code, 付款码): one row per payment code charged, beside its order.

The order (channel ``counter``, trade type MICROPAY) is an order like any other; this row holds
the loop that settles it (``server/domain/counter.py``, docs/counter.md). The auth code itself
is never stored: it is a one-time credential. Its digest is unique, so one code can pay at
most one order, whoever submits it and however often; its last four digits are kept for the
receipt.
"""

from ..extensions import db
from ..timeutil import utcnow


class CounterPayment(db.Model):
    __tablename__ = "counter_payments"

    # The loop's states. Open: CHARGING (not yet sent), UNKNOWN (sent, the answer is unknown:
    # query), PAYING (the customer is asked for the PIN: query), REVERSING (give up: reverse).
    # Final: SUCCESS, CLOSED (nothing was charged), REVOKED (reversed: closed or given back).
    CHARGING, UNKNOWN, PAYING, REVERSING = "CHARGING", "UNKNOWN", "PAYING", "REVERSING"
    SUCCESS, CLOSED, REVOKED = "SUCCESS", "CLOSED", "REVOKED"
    OPEN = (CHARGING, UNKNOWN, PAYING, REVERSING)
    FINAL = (SUCCESS, CLOSED, REVOKED)

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, unique=True)
    auth_code_digest = db.Column(db.String(64), nullable=False, unique=True)
    auth_code_tail = db.Column(db.String(4), nullable=False)
    state = db.Column(db.String(16), nullable=False, default=CHARGING, index=True)
    # Why it ended CLOSED or REVOKED, as a stable code (NOT_ENOUGH, AUTHCODEEXPIRE,
    # PIN_TIMEOUT, PAYERROR...); the console words it for the cashier.
    reason = db.Column(db.String(32))
    staff_id = db.Column(db.Integer, db.ForeignKey("staff_users.id"))
    charged_at = db.Column(db.DateTime(timezone=True))  # when the charge was sent
    next_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    # Who drives the loop now (a background thread or the job), until when.
    owner = db.Column(db.String(32))
    lease_until = db.Column(db.DateTime(timezone=True))
    queries = db.Column(db.Integer, nullable=False, default=0)
    reverses = db.Column(db.Integer, nullable=False, default=0)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)

    order = db.relationship("Order")

    def to_json(self):
        return {
            "state": self.state,
            "reason": self.reason,
            "auth_code_tail": self.auth_code_tail,
            "final": self.state in self.FINAL,
        }

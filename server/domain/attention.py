"""What needs a person: refused payments and ABNORMAL refunds, until someone resolves them.

A resolution is one row per item (kind, target id), unique: resolving twice, even at the same
moment from two browsers, keeps the first note and reports the second as already resolved.
"""

from sqlalchemy.exc import IntegrityError

from ..errors import DomainError
from ..extensions import db
from ..models import PaymentEvent, Refund, Resolution

REFUSED_PAYMENT, ABNORMAL_REFUND = "payment_event", "refund"
KINDS = (REFUSED_PAYMENT, ABNORMAL_REFUND)


def _unresolved(kind, id_column):
    return (
        ~db.select(Resolution.id)
        .where(Resolution.kind == kind, Resolution.target_id == id_column)
        .exists()
    )


def refused_payments():
    """PaymentEvents that recorded a refusal (REFUSED.<code>) nobody has resolved yet."""
    return db.select(PaymentEvent).where(
        PaymentEvent.event_type.like("REFUSED.%"), _unresolved(REFUSED_PAYMENT, PaymentEvent.id)
    )


def abnormal_refunds():
    """Refunds WeChat reported ABNORMAL (the user's account could not take the money)."""
    return db.select(Refund).where(
        Refund.status == "ABNORMAL", _unresolved(ABNORMAL_REFUND, Refund.id)
    )


def resolve(kind, target_id, by, note):
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind}")
    db.session.add(Resolution(kind=kind, target_id=target_id, note=note, resolved_by=by))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError("ALREADY_RESOLVED", "someone resolved this already") from None


def resolution(kind, target_id):
    return db.session.execute(
        db.select(Resolution).filter_by(kind=kind, target_id=target_id)
    ).scalar_one_or_none()

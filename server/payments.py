"""The order state machine. No Flask here: HTTP handlers and jobs call these functions.

Each transition is one conditional UPDATE (compare-and-set): it names the states it may leave
and reports whether it happened. Two workers applying the same notification at the same moment
therefore change the order once, on SQLite and PostgreSQL alike, without a read-then-write race.

    NOTPAY --mark_paid--> PAID          (notification or query says SUCCESS)
    NOTPAY --mark_closed--> CLOSED      (closed with WeChat, or WeChat says CLOSED)
    CLOSED --mark_paid--> PAID          (WeChat's word wins: the money was taken)
    PAID --(refunds.py)--> REFUNDED     (the SUCCESS refunds reach the total)
"""
import functools
import json
import logging
from dataclasses import asdict
from datetime import timedelta, timezone

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import Order, PaymentEvent, utcnow
from .wechatpay import gateway as gw
from .wechatpay.errors import ApiError

log = logging.getLogger(__name__)

# A prepay_id lives 2 hours; re-place the order a little before that.
PREPAY_LIFETIME = timedelta(hours=1, minutes=50)
# WeChat refuses to close an order in its first 5 minutes (documented for v2 closeorder).
CLOSE_NOT_BEFORE = timedelta(minutes=5)


class PaymentMismatch(Exception):
    """WeChat's account of a payment disagrees with our order (amount, merchant, unknown)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _transition(order_id, from_states, **values):
    return _update_order(order_id, Order.status.in_(from_states), values)


def _update_order(order_id, condition, values):
    """One conditional UPDATE; True when it matched the row. Loaded Order objects are not
    synchronised in Python (callers re-read), so the database alone decides the condition."""
    # On the table, not the mapped class: the ORM's bulk-update machinery costs more CPU than
    # the statement itself, and no loaded object is to be synchronised anyway.
    result = db.session.execute(
        update(Order.__table__).where(Order.id == order_id, condition).values(**values))
    return result.rowcount == 1


def mark_paid(order_id, transaction_id, paid_at=None):
    # WeChat's success_time is +08:00; stored in UTC, as SQLite keeps no offset.
    paid_at = paid_at.astimezone(timezone.utc) if paid_at else utcnow()
    return _transition(order_id, (Order.NOTPAY, Order.CLOSED), status=Order.PAID,
                       transaction_id=transaction_id, paid_at=paid_at)


def mark_closed(order_id):
    return _transition(order_id, (Order.NOTPAY,), status=Order.CLOSED, closed_at=utcnow())


def record_prepay(order_id, prepay_id):
    """Keep the prepay_id of an order that is still unpaid."""
    return _transition(order_id, (Order.NOTPAY,), prepay_id=prepay_id,
                       prepay_created_at=utcnow())


def claim_query(order_id, interval_seconds):
    """True for at most one caller per interval: rate-limits querying WeChat for one order."""
    now = utcnow()
    claimed = _update_order(order_id, (Order.status == Order.NOTPAY) & or_(
        Order.last_queried_at.is_(None),
        Order.last_queried_at < now - timedelta(seconds=interval_seconds)),
        {"last_queried_at": now})
    db.session.commit()
    return claimed


def prepay_is_fresh(order, now=None):
    created = order.prepay_created_at
    if not order.prepay_id or created is None:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return (now or utcnow()) - created < PREPAY_LIFETIME


def apply_transaction(transaction, *, appid, mchid, source, dedupe_key, event_type, payload):
    """Record what WeChat says about an order and move the order accordingly, once.

    Returns "paid", "closed", "duplicate" (this event was applied before) or "unchanged".
    Raises PaymentMismatch when the transaction is not ours or its amount differs from the
    order's: the order is left alone and a REFUSED.<code> event records what WeChat said.
    Commits.
    """
    # Lock the order row first (PostgreSQL; SQLite has one writer anyway). Without it, two
    # transactions that each insert an event (a foreign-key share lock on the order) and then
    # set transaction_id (a unique column, so a full row lock) deadlock each other.
    # Only the columns the checks need: a row, not an ORM object to build and track. An event
    # already recorded makes the row not match, so a resent notification takes no lock and
    # waits for none (a storm of one notification would otherwise queue on the row).
    seen = db.select(PaymentEvent.id).where(PaymentEvent.dedupe_key == dedupe_key).exists()
    order = db.session.execute(
        db.select(Order.id, Order.total).where(Order.out_trade_no == transaction.out_trade_no,
                                               ~seen)
        .with_for_update()
    ).one_or_none()
    if order is None and db.session.execute(db.select(seen)).scalar():
        db.session.rollback()
        return "duplicate"
    try:
        settled = _check_transaction(order, transaction, appid, mchid)
    except PaymentMismatch as mismatch:
        order_id = order.id if order else None
        db.session.rollback()  # release the row lock; the order stays as it is
        # A verified message from WeChat that contradicts our order (money may have moved):
        # kept for a person to look at, once per message however often WeChat resends it.
        _record(order_id=order_id, source=source, dedupe_key=f"{dedupe_key}:refused",
                event_type=f"REFUSED.{mismatch.code}", trade_state=transaction.trade_state,
                payload=_json(payload))
        db.session.commit()
        log.error("refused %s from %s for %s: %s", event_type, source,
                  transaction.out_trade_no, mismatch)
        raise
    if not settled and transaction.trade_state not in (gw.CLOSED, gw.REVOKED):
        db.session.rollback()  # release the row lock
        return "unchanged"  # NOTPAY, USERPAYING, PAYERROR: nothing to record yet

    if not _record(order_id=order.id, source=source, dedupe_key=dedupe_key,
                   event_type=event_type, trade_state=transaction.trade_state,
                   payload=_json(payload)):
        db.session.rollback()  # release the row lock
        return "duplicate"
    if settled:
        changed = mark_paid(order.id, transaction.transaction_id, transaction.success_time)
        outcome = "paid"
    else:
        changed = mark_closed(order.id)
        outcome = "closed"
    if not changed:
        # Already in that state (e.g. a query saw it first): the event stays as an audit record.
        outcome = "unchanged"
    db.session.commit()
    if changed:
        log.info("order %s %s via %s", transaction.out_trade_no, outcome, source)
    return outcome


def _record(**event):
    """Insert a PaymentEvent; False when its dedupe_key was recorded before.

    INSERT ... ON CONFLICT DO NOTHING (PostgreSQL and SQLite alike): a duplicate costs no
    error, no rollback and no savepoint; a concurrent insert of the same key waits for the
    first to commit, then inserts nothing.
    """
    insert = _insert_event(db.session.get_bind().dialect.name)
    return db.session.execute(insert, event).first() is not None


@functools.cache
def _insert_event(dialect_name):
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(PaymentEvent.__table__).on_conflict_do_nothing(
        index_elements=["dedupe_key"]).returning(PaymentEvent.id)


def _json(payload):
    return json.dumps(payload, ensure_ascii=False, default=str)


def _check_transaction(order, transaction, appid, mchid):
    """True when WeChat says the order is paid; PaymentMismatch when it cannot be ours."""
    if order is None:
        raise PaymentMismatch("ORDER_NOT_FOUND", "no order with this out_trade_no")
    if transaction.appid not in (None, appid) or transaction.mchid not in (None, mchid):
        raise PaymentMismatch("MERCHANT_MISMATCH", "appid or mchid is not ours")
    # REFUND: paid, then refunded in part or whole. The payment happened all the same; the
    # refunds are told by refunds.py, and a PAID or REFUNDED order is left as it is.
    settled = transaction.trade_state in (gw.SUCCESS, gw.REFUND)
    if settled and transaction.total != order.total:
        raise PaymentMismatch("AMOUNT_MISMATCH", f"paid {transaction.total} fen for an order "
                              f"of {order.total} fen")
    return settled


def apply_query(order, gateway, appid, mchid):
    """Ask WeChat about an unpaid order and apply the answer. Returns the outcome."""
    transaction = gateway.query_order(order.out_trade_no)
    return apply_transaction(
        transaction, appid=appid, mchid=mchid, source="query",
        dedupe_key=f"query:{transaction.out_trade_no}:{transaction.trade_state}",
        event_type=f"QUERY.{transaction.trade_state}", payload=asdict(transaction))


def close_order(order, gateway, appid, mchid):
    """Close an unpaid order with WeChat first, then here, so it cannot be paid afterwards.

    Returns "closed", "unchanged" (it was no longer unpaid here), or, when WeChat says it was
    paid at the last moment, the outcome of applying WeChat's answer ("paid"). Raises
    WeChatPayError when WeChat refuses otherwise or does not answer (the order stays open) and
    PaymentMismatch as ``apply_transaction`` does. Commits.
    """
    if order.prepay_id is not None:  # never placed with WeChat: nothing to close there
        try:
            gateway.close_order(order.out_trade_no)
        except ApiError as exc:
            if exc.code == "ORDERPAID":  # paid at the last moment: record it instead
                return apply_query(order, gateway, appid, mchid)
            if exc.code != "ORDER_NOT_EXIST":
                raise
    closed = mark_closed(order.id)
    db.session.commit()
    return "closed" if closed else "unchanged"


def order_expiry(minutes, now=None):
    return (now or utcnow()) + timedelta(minutes=minutes)

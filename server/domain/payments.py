"""The order state machine. No Flask here: HTTP handlers and jobs call these functions.

Each transition is one conditional UPDATE (compare-and-set): it names the states it may leave
and reports whether it happened. Two workers applying the same notification at the same moment
therefore change the order once, on SQLite and PostgreSQL alike, without a read-then-write race.

    NOTPAY --mark_paid--> PAID          (notification or query says SUCCESS)
    NOTPAY --mark_closed--> CLOSED      (closed with WeChat, or WeChat says CLOSED)
    CLOSED --mark_paid--> PAID          (WeChat's word wins: the money was taken)
    PAID --(refunds.py)--> REFUNDED     (the SUCCESS refunds reach the total)
    NOTPAY, PAID --mark_revoked--> REVOKED   (a payment-code order reversed: counter.py)
"""

import functools
import json
import logging
from dataclasses import asdict
from datetime import UTC, timedelta

from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..errors import DomainError
from ..extensions import db
from ..models import Order, PaymentEvent
from ..timeutil import utcnow
from ..wechatpay.core import types as gw
from ..wechatpay.core.errors import ApiError

log = logging.getLogger(__name__)

# The tables, not the mapped classes: these paths run for every notification, and statements
# on plain columns skip the ORM's machinery (which costs more CPU than the statements do).
# No Order object is loaded or kept in step with them; callers re-read.
orders, events = Order.__table__, PaymentEvent.__table__

# Built once, as nearly every notification runs one of them: building and cache-keying a
# statement costs more CPU than the database spends on it.
# Whose payment it is goes into the condition: WeChat's appid, mchid and sub_mchid must be the
# ones the order was placed with (a sub-merchant's only when it has one).
_PAY = (
    update(orders)
    .where(
        orders.c.out_trade_no == bindparam("paid_out_trade_no"),
        orders.c.total == bindparam("paid_total"),
        orders.c.status.in_((Order.NOTPAY, Order.CLOSED)),
        orders.c.appid == bindparam("paid_appid"),
        orders.c.mchid == bindparam("paid_mchid"),
        func.coalesce(orders.c.sub_mchid, "") == bindparam("paid_sub_mchid"),
    )
    .values(
        status=Order.PAID,
        transaction_id=bindparam("transaction_id"),
        paid_at=bindparam("paid_at"),
        # The payer, when checkout did not know them (a QR code, a web guest).
        payer_openid=func.coalesce(orders.c.payer_openid, bindparam("payer_openid")),
    )
    .returning(orders.c.id)
)
_SEEN = select(exists().where(events.c.dedupe_key == bindparam("seen_key")))

# A prepay_id lives 2 hours; re-place the order a little before that.
PREPAY_LIFETIME = timedelta(hours=1, minutes=50)
# WeChat refuses to close an order in its first 5 minutes (documented for v2 closeorder).
CLOSE_NOT_BEFORE = timedelta(minutes=5)


class PaymentMismatch(DomainError):
    """WeChat's account of a payment disagrees with our order (amount, merchant, unknown):
    the order is left alone, a person looks, and a notification is answered so that WeChat
    retries."""


def _transition(order_id, from_states, **values):
    """Set ``values`` on the order if its status is one of ``from_states``; True when it was."""
    statement = _transition_statement(from_states, tuple(values))
    result = db.session.connection().execute(statement, {"order_id": order_id, **values})
    return result.rowcount == 1


@functools.cache
def _transition_statement(from_states, columns):
    # Built once per kind of transition. The columns are named, so a misspelt one is an error.
    return (
        update(orders)
        .where(orders.c.id == bindparam("order_id"), orders.c.status.in_(from_states))
        .values({orders.c[name]: bindparam(name) for name in columns})
    )


def _update_order(order_id, condition, values):
    """One conditional UPDATE; True when it matched the row. The database alone decides the
    condition."""
    result = db.session.connection().execute(
        update(orders).where(orders.c.id == order_id, condition).values(**values)
    )
    return result.rowcount == 1


def mark_paid(transaction):
    """The order WeChat says is paid, if unpaid, of the amount paid and placed for the ids
    WeChat names (appid, mchid, sub_mchid), becomes PAID. Returns its id, or None when no
    order matched."""
    # WeChat's success_time is +08:00; stored in UTC, as SQLite keeps no offset.
    paid_at = transaction.success_time
    return (
        db.session.connection()
        .execute(
            _PAY,
            {
                "paid_out_trade_no": transaction.out_trade_no,
                "paid_total": transaction.total,
                "paid_appid": transaction.appid,
                "paid_mchid": transaction.mchid,
                "paid_sub_mchid": transaction.sub_mchid or "",
                "transaction_id": transaction.transaction_id,
                "paid_at": paid_at.astimezone(UTC) if paid_at else utcnow(),
                "payer_openid": transaction.openid,
            },
        )
        .scalar()
    )


def mark_closed(order_id):
    return _transition(order_id, (Order.NOTPAY,), status=Order.CLOSED, closed_at=utcnow())


def mark_revoked(order_id):
    """A payment-code order WeChat reversed: closed if unpaid, the money given back if paid."""
    return _transition(
        order_id, (Order.NOTPAY, Order.PAID), status=Order.REVOKED, closed_at=utcnow()
    )


def record_prepay(order_id, prepay_id):
    """Keep the prepay_id of an order that is still unpaid."""
    return _transition(order_id, (Order.NOTPAY,), prepay_id=prepay_id, prepay_created_at=utcnow())


def claim_query(order_id, interval_seconds):
    """True for at most one caller per interval: rate-limits querying WeChat for one order."""
    now = utcnow()
    claimed = _update_order(
        order_id,
        (orders.c.status == Order.NOTPAY)
        & or_(
            orders.c.last_queried_at.is_(None),
            orders.c.last_queried_at < now - timedelta(seconds=interval_seconds),
        ),
        {"last_queried_at": now},
    )
    db.session.commit()
    return claimed


def prepay_is_fresh(order, now=None):
    created = order.prepay_created_at
    if not order.prepay_id or created is None:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (now or utcnow()) - created < PREPAY_LIFETIME


def apply_transaction(transaction, *, source, dedupe_key, event_type, payload):
    """Record what WeChat says about an order and move the order accordingly, once.

    Returns "paid", "closed", "duplicate" (this event was applied before) or "unchanged".
    Raises PaymentMismatch when the transaction is not the order's (another appid, mchid or
    sub-merchant than the order was placed with, in its channel), its amount differs from
    the order's, or its transaction_id already paid another order: the order is left alone
    and a REFUSED.<code> event records what WeChat said. Commits.
    """
    event = {
        "source": source,
        "dedupe_key": dedupe_key,
        "event_type": event_type,
        "trade_state": transaction.trade_state,
        "payload": _json(payload),
    }
    # REFUND: paid, then refunded in part or whole. The payment happened all the same; the
    # refunds are told by refunds.py, and a PAID or REFUNDED order is left as it is.
    settled = transaction.trade_state in (gw.SUCCESS, gw.REFUND)
    if settled and transaction.appid and transaction.mchid:
        # Most messages pay an unpaid order: that compare-and-set goes first, and it locks the
        # row, so the event can follow in the same transaction (an event insert first would
        # take a foreign-key share lock, and two of them then deadlock on the UPDATE).
        try:
            order_id = mark_paid(transaction)
        except IntegrityError:
            # Its transaction_id is another order's (unique): refused below, for a person.
            db.session.rollback()
            order_id = None
        if order_id is not None:
            if not _record(order_id=order_id, **event):
                db.session.rollback()  # an event for an unpaid order: only ever a duplicate
                return "duplicate"
            db.session.commit()
            log.info("order %s paid (%s)", transaction.out_trade_no, dedupe_key)
            return "paid"

    # Anything else: a resent message, a mismatch, a closed order, or an order already paid.
    database = db.session.connection()
    if database.execute(_SEEN, {"seen_key": dedupe_key}).scalar():
        db.session.rollback()
        return "duplicate"
    # Locked before the event is inserted, for the deadlock above.
    order = database.execute(
        select(orders.c.id, orders.c.total, orders.c.appid, orders.c.mchid, orders.c.sub_mchid)
        .where(orders.c.out_trade_no == transaction.out_trade_no)
        .with_for_update()
    ).one_or_none()
    try:
        _check_transaction(order, transaction, settled)
        if settled:
            _check_transaction_id(order, transaction)
    except PaymentMismatch as mismatch:
        order_id = order.id if order else None
        db.session.rollback()  # release the row lock; the order stays as it is
        # A verified message from WeChat that contradicts our order (money may have moved):
        # kept for a person to look at, once per message however often WeChat resends it.
        _record(
            **{
                **event,
                "order_id": order_id,
                "dedupe_key": f"{dedupe_key}:refused",
                "event_type": f"REFUSED.{mismatch.code}",
            }
        )
        db.session.commit()
        log.error(
            "refused %s from %s for %s: %s", event_type, source, transaction.out_trade_no, mismatch
        )
        raise
    if not settled and transaction.trade_state not in (gw.CLOSED, gw.REVOKED):
        db.session.rollback()  # release the row lock
        return "unchanged"  # NOTPAY, USERPAYING, PAYERROR: nothing to record yet

    if not _record(order_id=order.id, **event):
        db.session.rollback()  # release the row lock
        return "duplicate"
    # Settled here means already paid (mark_paid above found nothing to change): the event
    # stays as an audit record. Likewise for a close of an order no longer unpaid.
    closed = not settled and mark_closed(order.id)
    db.session.commit()
    if closed:
        log.info("order %s closed (%s)", transaction.out_trade_no, dedupe_key)
    return "closed" if closed else "unchanged"


def _record(**event):
    """Insert a PaymentEvent; False when its dedupe_key was recorded before.

    INSERT ... ON CONFLICT DO NOTHING (PostgreSQL and SQLite alike): a duplicate costs no
    error, no rollback and no savepoint; a concurrent insert of the same key waits for the
    first to commit, then inserts nothing.
    """
    database = db.session.connection()
    return database.execute(_insert_event(database.dialect.name), event).first() is not None


@functools.cache
def _insert_event(dialect_name):
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(events)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(events.c.id)
    )


def _json(payload):
    return json.dumps(payload, ensure_ascii=False, default=str)


def is_orders(message, order):
    """Whether WeChat's ``message`` (a Transaction or a RefundResult) names the ids ``order``
    (a row with appid, mchid, sub_mchid) was placed with. What a message leaves out (a v3
    refund names no appid) is not held against it; a sub-merchant must match either way."""
    return (
        getattr(message, "appid", None) in (None, order.appid)
        and message.mchid in (None, order.mchid)
        and (message.sub_mchid or None) == (order.sub_mchid or None)
    )


def _check_transaction(order, transaction, settled):
    """PaymentMismatch when the transaction cannot be the order's."""
    if order is None:
        raise PaymentMismatch("ORDER_NOT_FOUND", "no order with this out_trade_no")
    if not is_orders(transaction, order):
        raise PaymentMismatch(
            "MERCHANT_MISMATCH", "appid, mchid or sub_mchid is not the order's channel's"
        )
    if settled and transaction.total != order.total:
        raise PaymentMismatch(
            "AMOUNT_MISMATCH", f"paid {transaction.total} fen for an order of {order.total} fen"
        )


def _check_transaction_id(order, transaction):
    """PaymentMismatch when WeChat's transaction_id is already another order's: one payment
    cannot pay two orders (WeChat's word contradicts ours, or a message was misrouted)."""
    if not transaction.transaction_id:
        return
    holder = (
        db.session.connection()
        .execute(
            select(orders.c.out_trade_no).where(
                orders.c.transaction_id == transaction.transaction_id, orders.c.id != order.id
            )
        )
        .scalar()
    )
    if holder is not None:
        raise PaymentMismatch(
            "TRANSACTION_ID_IN_USE",
            f"transaction {transaction.transaction_id} already paid order {holder}",
        )


def apply_query(order, gateway):
    """Ask WeChat about an unpaid order (``gateway``: the order's, ``channels.payment_context``)
    and apply the answer. Returns the outcome."""
    transaction = gateway.query_order(order.out_trade_no)
    return apply_transaction(
        transaction,
        source="query",
        dedupe_key=f"query:{transaction.out_trade_no}:{transaction.trade_state}",
        event_type=f"QUERY.{transaction.trade_state}",
        payload=asdict(transaction),
    )


def close_order(order, gateway):
    """Close an unpaid order with WeChat first, then here, so it cannot be paid afterwards.

    Returns "closed", "unchanged" (it was no longer unpaid here), or, when WeChat says it was
    paid at the last moment, the outcome of applying WeChat's answer ("paid"). Raises
    WeChatPayError when WeChat refuses otherwise or does not answer (the order stays open) and
    PaymentMismatch as ``apply_transaction`` does, and ORDER_NOT_CLOSABLE for a payment-code
    order (``check_closable``). Commits.
    """
    check_closable(order)
    if order.prepay_id is not None:  # never placed with WeChat: nothing to close there
        try:
            gateway.close_order(order.out_trade_no)
        except ApiError as exc:
            if exc.code == "ORDERPAID":  # paid at the last moment: record it instead
                return apply_query(order, gateway)
            if exc.code != "ORDER_NOT_EXIST":
                raise
    closed = mark_closed(order.id)
    db.session.commit()
    return "closed" if closed else "unchanged"


def check_closable(order):
    """ORDER_NOT_CLOSABLE for a payment-code (MICROPAY) order: it never has a prepay_id, and
    its own loop settles it with WeChat (query, then reverse: docs/counter.md); closing it here
    alone could mark CLOSED an order WeChat is still charging."""
    if order.trade_type == "MICROPAY":
        raise DomainError(
            "ORDER_NOT_CLOSABLE",
            "a payment-code order is settled by its own loop: reverse or refund it",
            order_id=order.id,
        )


def order_expiry(minutes, now=None):
    return (now or utcnow()) + timedelta(minutes=minutes)

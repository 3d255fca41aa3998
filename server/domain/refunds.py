"""The refund state machine and the ``refund(order, amount, ...)`` entry point. No Flask here:
the CLI, the mini program's API and the staff console call these functions.

One intent is one ``out_refund_no``. The Refund row is committed (PENDING) before WeChat is
asked, so when the answer is lost (timeout, 5xx, SYSTEM_ERROR) the same number is sent again
and WeChat answers with the same refund: never two refunds for one intent.

    PENDING --WeChat accepts--> PROCESSING --> SUCCESS | CLOSED | ABNORMAL
    PENDING --WeChat refuses definitively--> FAILED (the amount is free again)
    ABNORMAL --apply_abnormal_refund--> PROCESSING

Whether an amount may be refunded is decided under a lock on the order row, so concurrent
refunds can never together exceed what was paid. Every later transition is one compare-and-set
UPDATE after the message that caused it was recorded (PaymentEvent with refund_id), so
duplicate and concurrent messages change a refund once.
"""

import logging
import secrets
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import DomainError
from ..extensions import db
from ..models import CounterPayment, Order, PaymentEvent, Refund, RefundRequest
from ..timeutil import CHINA, as_utc, utcnow
from ..wechatpay.core import types as gw
from ..wechatpay.core.errors import ApiError, WeChatPayError
from . import customers
from .payments import _json, _record, is_orders

log = logging.getLogger(__name__)

MAX_REFUNDS_PER_ORDER = 50  # WeChat's cap (docs/protocol.md E)
MAX_REASON = 80  # WeChat's limit on a refund's reason
# Refunds that hold money: WeChat has it, may have it, or has (or had) given it back.
HOLDING = (Refund.PENDING, Refund.PROCESSING, Refund.SUCCESS, Refund.ABNORMAL)
# Which states a message from WeChat may move a refund out of, per state it reports.
MAY_LEAVE = {
    gw.REFUND_PROCESSING: (Refund.PENDING,),
    gw.REFUND_SUCCESS: (Refund.PENDING, Refund.PROCESSING, Refund.ABNORMAL),
    gw.REFUND_ABNORMAL: (Refund.PENDING, Refund.PROCESSING),
    gw.REFUND_CLOSED: (Refund.PENDING, Refund.PROCESSING, Refund.ABNORMAL),
}
# A refund in the first state cannot honestly be reported in the second: a person looks.
CONTRADICTIONS = {
    (Refund.SUCCESS, gw.REFUND_CLOSED),
    (Refund.CLOSED, gw.REFUND_SUCCESS),
    (Refund.CLOSED, gw.REFUND_ABNORMAL),
    (Refund.CLOSED, gw.REFUND_PROCESSING),
}
# What to tell a person about WeChat's definite refusals.
REFUSALS = {
    "NOT_ENOUGH": "the merchant account's balance is too low for this refund: top it up "
    "and refund again",
    "INVALID_REQUEST": "WeChat Pay refused the refund as asked (for example more than it "
    "has left to refund: was the order refunded on the merchant platform?)",
    "TRADE_OVERDUE": "the order was paid more than a year ago; WeChat Pay no longer refunds "
    "it: give the money back another way",
    "USER_ACCOUNT_ABNORMAL": "the payer's WeChat account is frozen or closed: give the money "
    "back another way",
    "RULE_LIMIT": "WeChat Pay refuses more refunds of this order (at most 50)",
    "ORDER_NOT_EXIST": "WeChat Pay does not know this order",
    "RESOURCE_NOT_EXISTS": "WeChat Pay does not know this order",
}


class RefundMismatch(DomainError):
    """WeChat's account of a refund contradicts our records (unknown, other amount, ...):
    nothing changes, a person looks, and a notification is answered so that WeChat retries."""


# --- placing refunds ---------------------------------------------------------------------------


def refundable(order):
    """Fen that may still be refunded: the paid total minus the refunds holding money."""
    if order.status not in (Order.PAID, Order.REFUNDED):
        return 0
    held = db.session.execute(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.order_id == order.id, Refund.status.in_(HOLDING)
        )
    ).scalar_one()
    return order.total - held


def refund(
    order, amount, reason, by, *, gateway, notify_url, request=None, note=None, out_refund_no=None
):
    """Refund ``amount`` fen of a paid order, approved by ``by`` (and asked by them, or by the
    user of ``request``, a pending RefundRequest this refund approves). Returns the Refund,
    whatever WeChat answered (PENDING when it did not answer: the sweep sends it again).
    DomainError when the refund is not allowed; nothing is written then. Commits.

    ``out_refund_no``: the intent's number, chosen before the decision was confirmed (the
    console's confirmation page carries it). The same decision sent twice (a double click, a
    resubmitted form) then finds its refund instead of making a second one.
    """
    if out_refund_no is not None:
        if not gw.OUT_REFUND_NO.fullmatch(out_refund_no):
            raise DomainError("INVALID_REFUND_NO", "not a refund number of ours")
        existing = db.session.execute(
            select(Refund).where(Refund.out_refund_no == out_refund_no)
        ).scalar_one_or_none()
        if existing is not None:
            if existing.order_id != order.id:
                raise DomainError("INVALID_REFUND_NO", "that refund number is another order's")
            if existing.status == Refund.PENDING:  # its answer was lost: the same number again
                return submit(existing, gateway=gateway, notify_url=notify_url)
            return existing
    requested_by = by
    if request is not None:  # the user who asked; a web-shop guest has no account
        requested_by = f"user:{request.user_id}" if request.user_id is not None else "guest"
    refund_row = _place(
        order.id,
        amount,
        reason,
        requested_by=requested_by,
        approved_by=by,
        out_refund_no=out_refund_no,
    )
    if request is not None and not _decide(
        request.id, RefundRequest.APPROVED, by, note, refund_id=refund_row.id
    ):
        db.session.rollback()
        raise DomainError("REQUEST_NOT_PENDING", f"refund request {request.id} was decided")
    db.session.commit()
    return submit(refund_row, gateway=gateway, notify_url=notify_url)


def _place(order_id, amount, reason, *, requested_by, approved_by, out_refund_no=None):
    """The PENDING Refund, decided and added under the order's row lock (not committed)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise DomainError("INVALID_AMOUNT", "the amount must be a whole number of fen above 0")
    order = lock_order(order_id)
    if order is None or order.status != Order.PAID:
        db.session.rollback()
        raise DomainError(
            "ORDER_NOT_REFUNDABLE",
            "only a paid order can be refunded"
            if order is None
            else f"the order is {order.status}, not PAID",
        )
    reversing = db.session.execute(
        select(CounterPayment.id).where(
            CounterPayment.order_id == order.id, CounterPayment.state == CounterPayment.REVERSING
        )
    ).first()
    if reversing is not None:  # its money is going back already (counter.reverse_paid)
        db.session.rollback()
        raise DomainError(
            "ORDER_NOT_REFUNDABLE", "the payment is being reversed: its money goes back whole"
        )
    count = db.session.execute(
        select(func.count(Refund.id)).where(
            Refund.order_id == order.id, Refund.status != Refund.FAILED
        )
    ).scalar_one()
    if count >= MAX_REFUNDS_PER_ORDER:
        db.session.rollback()
        raise DomainError(
            "TOO_MANY_REFUNDS",
            f"WeChat Pay allows at most {MAX_REFUNDS_PER_ORDER} refunds per order",
        )
    left = refundable(order)
    if amount > left:
        db.session.rollback()
        raise DomainError(
            "EXCEEDS_REFUNDABLE", f"{amount} fen is more than the {left} fen left to refund"
        )
    refund_row = Refund(
        order_id=order.id,
        out_refund_no=out_refund_no or new_out_refund_no(),
        amount=amount,
        reason=(reason or "").strip()[:MAX_REASON] or None,
        requested_by=requested_by[:64],
        approved_by=approved_by[:64],
        status=Refund.PENDING,
    )
    db.session.add(refund_row)
    db.session.flush()
    return refund_row


def lock_order(order_id):
    """The order, row-locked until the transaction ends.

    PostgreSQL: SELECT ... FOR UPDATE. SQLite has no row locks, and its Python driver opens a
    transaction only at the first write, so a no-op UPDATE first takes SQLite's single write
    lock; reads after it see every committed refund and no other writer can slip in.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(id=Order.id)
            .execution_options(synchronize_session=False)
        )
    return db.session.execute(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def new_out_refund_no():
    """``R`` + Beijing time to the second + 64 random bits: 31 characters of WeChat's set."""
    return "R" + datetime.now(CHINA).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)


def submit(refund_row, *, gateway, notify_url):
    """Ask WeChat for a PENDING refund (again: always the same out_refund_no) and apply the
    answer. Unknown outcomes leave it PENDING for the next sweep. Returns the Refund."""
    refund_id = refund_row.id
    order = db.session.get(Order, refund_row.order_id)
    request = gw.RefundRequest(
        out_trade_no=order.out_trade_no,
        out_refund_no=refund_row.out_refund_no,
        refund=refund_row.amount,
        total=order.total,
        reason=refund_row.reason,
        notify_url=notify_url,
    )
    retry = refund_row.attempts > 0  # an earlier call's outcome is unknown
    db.session.execute(
        update(Refund)
        .where(Refund.id == refund_id)
        .values(attempts=Refund.attempts + 1, updated_at=utcnow())
    )
    db.session.commit()
    source = "apply"
    try:
        try:
            result = gateway.refund(request)
        except ApiError as exc:
            if exc.retryable or (exc.http_status or 0) >= 500:
                raise
            if not retry:
                _fail(refund_id, exc)
                return _reload(refund_id)
            # A refusal now does not prove that an earlier, unanswered call made no refund:
            # only WeChat not knowing the out_refund_no does. Ask before freeing the amount.
            source = "query"
            try:
                result = gateway.query_refund(request.out_refund_no)
            except ApiError as missing:
                if missing.code not in ("RESOURCE_NOT_EXISTS", "ORDER_NOT_EXIST"):
                    raise
                _fail(refund_id, exc)
                return _reload(refund_id)
    except WeChatPayError as exc:
        # No trustworthy answer (a timeout, a 5xx, or even a 2xx we cannot verify): WeChat may
        # have made the refund, so it stays PENDING and goes again with the same number.
        _note_retry(refund_id, exc.code, exc.message)
        return _reload(refund_id)
    try:
        apply_refund_result(
            result,
            source=source,
            dedupe_key=f"refund-{source}:{result.out_refund_no}:{result.status}",
            event_type=f"{source.upper()}.{result.status}",
            payload=asdict(result),
        )
    except RefundMismatch as exc:
        log.error("WeChat's answer to refund %s contradicts it: %s", request.out_refund_no, exc)
    return _reload(refund_id)


def _note_retry(refund_id, code, message):
    """The outcome is unknown: stay PENDING (the sweep resends the same out_refund_no)."""
    db.session.execute(
        update(Refund)
        .where(Refund.id == refund_id, Refund.status == Refund.PENDING)
        .values(error_code=code[:64], error_message=message[:255], updated_at=utcnow())
    )
    db.session.commit()
    log.warning(
        "refund %s: no definite answer from WeChat Pay (%s); it will be sent again", refund_id, code
    )


def _fail(refund_id, exc):
    """A definite refusal: FAILED with the reason, so its amount is free again."""
    refund_row = db.session.get(Refund, refund_id)
    lock_order(refund_row.order_id)
    if _record(
        order_id=refund_row.order_id,
        refund_id=refund_id,
        source="apply",
        dedupe_key=f"refund-apply:{refund_row.out_refund_no}:{exc.code}",
        event_type=f"APPLY.FAILED.{exc.code}"[:64],
        payload=_json({"code": exc.code, "message": exc.message}),
    ):
        message = REFUSALS.get(exc.code, "WeChat Pay refused the refund")
        _set_status(
            refund_id,
            (Refund.PENDING,),
            Refund.FAILED,
            error_code=exc.code[:64],
            error_message=f"{message} ({exc.message})"[:255],
        )
    db.session.commit()
    log.warning("refund %s refused by WeChat Pay: %s", refund_id, exc.code)


# --- what WeChat says about a refund -------------------------------------------------------------


def apply_refund_result(result, *, source, dedupe_key, event_type, payload):
    """Record what WeChat says about a refund and move the refund accordingly, once.

    Returns the refund's new state in lower case ("success", "processing", ...),
    "duplicate" (this message was applied before) or "unchanged" (a stale or repeated state).
    Raises RefundMismatch when the refund is not ours (unknown, or for another merchant than
    its order's channel) or WeChat's account contradicts ours: nothing changes, and a
    REFUSED.<code> event keeps the message for a person. Commits.
    """
    found = db.session.execute(
        select(Refund.id, Refund.order_id).where(Refund.out_refund_no == result.out_refund_no)
    ).first()
    order = lock_order(found.order_id) if found else None
    refund_row = (
        db.session.execute(
            select(Refund).where(Refund.id == found.id).execution_options(populate_existing=True)
        ).scalar_one()
        if found
        else None
    )
    try:
        _check(refund_row, order, result)
    except RefundMismatch as mismatch:
        db.session.rollback()
        _record(
            order_id=order.id if order else None,
            refund_id=refund_row.id if refund_row else None,
            source=source,
            dedupe_key=f"{dedupe_key}:refused",
            event_type=f"REFUSED.{mismatch.code}",
            trade_state=result.status,
            payload=_json(payload),
        )
        db.session.commit()
        log.error(
            "refused %s from %s for refund %s: %s",
            event_type,
            source,
            result.out_refund_no,
            mismatch,
        )
        raise
    # A refund sent again after ABNORMAL (apply_abnormal_refund) passes through the same
    # states again: its messages are told apart by how often that happened.
    resends = db.session.execute(
        select(func.count(PaymentEvent.id)).where(
            PaymentEvent.refund_id == refund_row.id,
            PaymentEvent.event_type.like("ABNORMAL_APPLIED.%"),
        )
    ).scalar_one()
    if resends:
        dedupe_key = f"{dedupe_key}:resent{resends}"
    if not _record(
        order_id=order.id,
        refund_id=refund_row.id,
        source=source,
        dedupe_key=dedupe_key,
        event_type=event_type[:64],
        trade_state=result.status,
        payload=_json(payload),
    ):
        db.session.rollback()  # release the order's lock
        return "duplicate"
    values = {
        "refund_id": result.refund_id or refund_row.refund_id,
        "channel": result.channel or refund_row.channel,
        "user_received_account": result.user_received_account or refund_row.user_received_account,
    }
    if result.status == gw.REFUND_SUCCESS:
        values["succeeded_at"] = (result.success_time or utcnow()).astimezone(UTC)
    changed = _set_status(refund_row.id, MAY_LEAVE[result.status], result.status, **values)
    if not changed:
        # A stale answer (the notification came first) may still carry details we lack.
        db.session.execute(
            update(Refund)
            .where(Refund.id == refund_row.id)
            .values(
                refund_id=func.coalesce(Refund.refund_id, result.refund_id),
                channel=func.coalesce(Refund.channel, result.channel),
                user_received_account=func.coalesce(
                    Refund.user_received_account, result.user_received_account
                ),
                succeeded_at=func.coalesce(Refund.succeeded_at, values.get("succeeded_at")),
            )
        )
    if changed and result.status == gw.REFUND_SUCCESS:
        _mark_refunded_when_complete(order)
    db.session.commit()
    if not changed:
        return "unchanged"
    log.info("refund %s %s via %s", result.out_refund_no, result.status, source)
    if result.status == gw.REFUND_ABNORMAL:
        log.error(
            "refund %s is ABNORMAL (the payer's card or account cannot take it): "
            "see `flask --app server refunds abnormal`",
            result.out_refund_no,
        )
    return result.status.lower()


def _check(refund_row, order, result):
    if refund_row is None:
        raise RefundMismatch("REFUND_NOT_FOUND", "no refund with this out_refund_no")
    if not is_orders(result, order):
        raise RefundMismatch(
            "MERCHANT_MISMATCH", "appid, mchid or sub_mchid is not the order's channel's"
        )
    if result.out_trade_no not in (None, order.out_trade_no):
        raise RefundMismatch("ORDER_MISMATCH", "the refund belongs to another order")
    if result.refund != refund_row.amount or result.total != order.total:
        raise RefundMismatch(
            "AMOUNT_MISMATCH",
            f"WeChat has {result.refund} of "
            f"{result.total} fen; we asked {refund_row.amount} of {order.total}",
        )
    if refund_row.refund_id and result.refund_id not in (None, refund_row.refund_id):
        raise RefundMismatch("REFUND_ID_MISMATCH", "WeChat names another refund_id")
    if refund_row.status == Refund.FAILED or (refund_row.status, result.status) in CONTRADICTIONS:
        raise RefundMismatch(
            "STATUS_CONFLICT", f"WeChat says {result.status}; we have {refund_row.status}"
        )


def _mark_refunded_when_complete(order):
    """PAID -> REFUNDED once the SUCCESS refunds add up to the total (under the order lock)."""
    done = db.session.execute(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.order_id == order.id, Refund.status == Refund.SUCCESS
        )
    ).scalar_one()
    if done >= order.total:
        db.session.execute(
            update(Order)
            .where(Order.id == order.id, Order.status == Order.PAID)
            .values(status=Order.REFUNDED)
            .execution_options(synchronize_session=False)
        )


def _set_status(row_id, from_states, status, **values):
    """One compare-and-set UPDATE of refund ``row_id``; True when it matched."""
    result = db.session.execute(
        update(Refund)
        .where(Refund.id == row_id, Refund.status.in_(from_states))
        .values(status=status, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def sync_refund(refund_row, *, gateway, notify_url=None):
    """Converge one unsettled refund with WeChat: a PENDING one is sent again (same
    out_refund_no), a PROCESSING or ABNORMAL one is queried. Returns the outcome."""
    if refund_row.status == Refund.PENDING:
        return submit(refund_row, gateway=gateway, notify_url=notify_url).status.lower()
    return query_refund(refund_row, gateway=gateway)


def query_refund(refund_row, *, gateway):
    """Ask WeChat about a refund it has and apply the answer. Returns the outcome."""
    db.session.execute(
        update(Refund).where(Refund.id == refund_row.id).values(last_queried_at=utcnow())
    )
    db.session.commit()
    result = gateway.query_refund(refund_row.out_refund_no)
    return apply_refund_result(
        result,
        source="query",
        dedupe_key=f"refund-query:{result.out_refund_no}:{result.status}",
        event_type=f"QUERY.{result.status}",
        payload=asdict(result),
    )


def apply_abnormal_refund(refund_row, type, by, *, gateway, **bank):
    """Send an ABNORMAL refund again (v3): ``type`` USER_BANK_CARD (with bank_type,
    bank_account, real_name) or MERCHANT_BANK_CARD. Returns the Refund."""
    if refund_row.status != Refund.ABNORMAL or not refund_row.refund_id:
        raise DomainError("REFUND_NOT_ABNORMAL", f"the refund is {refund_row.status}")
    result = gateway.apply_abnormal_refund(
        refund_row.refund_id, refund_row.out_refund_no, type, **bank
    )
    lock_order(refund_row.order_id)
    if _record(
        order_id=refund_row.order_id,
        refund_id=refund_row.id,
        source="apply",
        event_type=f"ABNORMAL_APPLIED.{type}"[:64],
        trade_state=result.status,
        payload=_json({"by": by, "type": type, **asdict(result)}),
    ):
        # Only ABNORMAL may go back to PROCESSING, and only by this call.
        succeeded = (
            {"succeeded_at": (result.success_time or utcnow()).astimezone(UTC)}
            if result.status == gw.REFUND_SUCCESS
            else {}
        )
        _set_status(refund_row.id, (Refund.ABNORMAL,), result.status, **succeeded)
        if result.status == gw.REFUND_SUCCESS:
            _mark_refunded_when_complete(db.session.get(Order, refund_row.order_id))
    db.session.commit()
    log.info("refund %s re-sent after ABNORMAL by %s (%s)", refund_row.out_refund_no, by, type)
    return _reload(refund_row.id)


def unsettled(older_than):
    """Refunds that need WeChat asked again: PENDING (the answer was lost) or PROCESSING."""
    return (
        db.session.execute(
            select(Refund)
            .where(
                Refund.status.in_((Refund.PENDING, Refund.PROCESSING)),
                Refund.updated_at <= utcnow() - older_than,
            )
            .order_by(Refund.id)
        )
        .scalars()
        .all()
    )


def sweep(older_than, *, context_for):
    """sync_refund every unsettled refund, each with its order's gateway and refund notify URL
    (``context_for(order)``: ``channels.payment_context``); {outcome: count}: a refund's new
    status in lower case ("pending": still no answer from WeChat), or "error" when it could not
    be synced. Errors are logged, not raised."""
    counts = {}
    for refund_row in unsettled(older_than):
        try:
            context = context_for(db.session.get(Order, refund_row.order_id))
            outcome = sync_refund(
                refund_row, gateway=context.gateway, notify_url=context.refund_notify_url
            )
        except (WeChatPayError, DomainError) as exc:  # RefundMismatch, not configured
            db.session.rollback()
            log.warning(
                "sync of refund %s failed: %s", refund_row.out_refund_no, getattr(exc, "code", exc)
            )
            outcome = "error"  # not "failed", which is a refund WeChat refused
        counts[outcome] = counts.get(outcome, 0) + 1
    for abnormal in db.session.execute(
        select(Refund).where(Refund.status == Refund.ABNORMAL)
    ).scalars():
        log.error(
            "refund %s (order %s, %s fen) is ABNORMAL: needs a person",
            abnormal.out_refund_no,
            abnormal.order_id,
            abnormal.amount,
        )
    return counts


# --- the user's requests -----------------------------------------------------------------------


def request_refund(order, user, reason, *, window):
    """The user asks for a refund of a paid order (within ``window``, a timedelta, of paying).
    ``user`` None: a web-shop guest's order (it has no user), asked from the browser that
    placed it (the caller has checked that). One pending request per order: decided under the
    order's row lock, and the insert is refused by the database beside a pending one (a
    double click makes one request). Commits; returns the RefundRequest. A refusal names the
    order (``order_id``)."""
    order_id = order.id
    order = lock_order(order_id)
    owner = order.user_id is None if user is None else customers.same_customer(order.user_id, user)
    if not owner or order.status != Order.PAID or refundable(order) <= 0:
        db.session.rollback()
        raise DomainError(
            "ORDER_NOT_REFUNDABLE",
            "only a paid order with money left to refund can be refunded",
            order_id=order_id,
        )
    if as_utc(order.paid_at) + window < utcnow():
        db.session.rollback()
        raise DomainError(
            "REFUND_WINDOW_PASSED",
            f"refunds can be requested within {window.days} days of paying",
            order_id=order_id,
        )
    already = DomainError(
        "REQUEST_ALREADY_PENDING",
        "a refund request for this order is already waiting for the shop",
        order_id=order_id,
    )
    pending = db.session.execute(
        select(RefundRequest.id).where(
            RefundRequest.order_id == order.id, RefundRequest.status == RefundRequest.PENDING
        )
    ).first()
    if pending:
        db.session.rollback()
        raise already
    request = RefundRequest(
        order_id=order.id,
        user_id=user.id if user is not None else None,
        reason=reason[:200],
        status=RefundRequest.PENDING,
    )
    db.session.add(request)
    try:
        db.session.commit()
    except IntegrityError:  # uq_refund_requests_one_pending: another request got in first
        db.session.rollback()
        raise already from None
    return request


def approve_request(request_id, by, note, *, context_for, amount=None):
    """Approve a pending request: refund ``amount`` (default: all that is left), with the
    order's gateway and refund notify URL (``context_for(order)``). Returns the Refund. The
    request stays PENDING when the refund is not allowed (DomainError)."""
    request = db.session.get(RefundRequest, request_id)
    if request is None:
        raise DomainError("REQUEST_NOT_FOUND", f"no refund request {request_id}")
    context = context_for(db.session.get(Order, request.order_id))
    order = lock_order(request.order_id)
    if amount is None:
        amount = refundable(order)
        if amount <= 0:
            db.session.rollback()
            raise DomainError("ORDER_NOT_REFUNDABLE", "nothing is left to refund on this order")
    return refund(
        order,
        amount,
        request.reason,
        by,
        gateway=context.gateway,
        notify_url=context.refund_notify_url,
        request=request,
        note=note,
    )


def reject_request(request_id, by, note):
    """Reject a pending request, with a note the user sees. Commits; returns the request."""
    if not _decide(request_id, RefundRequest.REJECTED, by, note):
        db.session.rollback()
        raise DomainError(
            "REQUEST_NOT_PENDING", f"refund request {request_id} is not waiting for a decision"
        )
    db.session.commit()
    return db.session.execute(
        select(RefundRequest)
        .where(RefundRequest.id == request_id)
        .execution_options(populate_existing=True)
    ).scalar_one()


def _decide(request_id, status, by, note, **values):
    result = db.session.execute(
        update(RefundRequest)
        .where(RefundRequest.id == request_id, RefundRequest.status == RefundRequest.PENDING)
        .values(
            status=status,
            decided_by=by[:64],
            decided_at=utcnow(),
            note=(note or None) and note[:200],
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# --- helpers ----------------------------------------------------------------------------------


def _reload(refund_id):
    return db.session.execute(
        select(Refund).where(Refund.id == refund_id).execution_options(populate_existing=True)
    ).scalar_one()

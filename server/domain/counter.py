"""The counter: a payment code (付款码) charged, and the loop that leaves no order open.

No Flask here. The cashier page and the POS terminal's JSON endpoint call ``submit``, which
creates the order and its ``CounterPayment`` and returns at once; the loop then runs in a
bounded background pool (``Runner``), and the periodic job (``sweep``, under the jobs'
exclusive lock) finishes any loop left open by a killed worker or a restart. The page polls
the order. docs/counter.md explains every rule with its source; in short:

    CHARGING --charge sent--> UNKNOWN       (before the charge is sent: never charged twice)
    UNKNOWN  --answer SUCCESS--> SUCCESS
             --answer USERPAYING--> PAYING  (the customer types the PIN)
             --a definite refusal--> CLOSED (code expired, balance short...: nothing taken)
             --SYSTEMERROR, BANKERROR, a timeout, a lost answer--> stays: query it
    UNKNOWN, PAYING --query every poll seconds--> SUCCESS | CLOSED (PAYERROR) | REVOKED
                    --still unpaid after the PIN timeout--> REVERSING
    REVERSING --reverse, not before reverse_after seconds from the charge, again while WeChat
               says recall=Y, USERPAYING or does not answer--> REVOKED (CLOSED: WeChat never
               had the order)
    SUCCESS --an admin's reverse within 7 days--> REVERSING (the money is given back)

Every move is one compare-and-set on the payment's state, made by the one driver holding its
lease (``owner``, ``lease_until``): a background thread or the job, never both. The auth code
is never stored (a one-time credential); its digest is unique, so one code pays one order
however many times and by whomever it is submitted.
"""

import hashlib
import logging
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import DomainError
from ..extensions import db
from ..models import CounterPayment, Order, Refund
from ..timeutil import as_utc, utcnow
from ..wechatpay.core import types as gw
from ..wechatpay.core.errors import ApiError, WeChatPayError
from . import checkout, payments, refunds
from .jobs import bounded

log = logging.getLogger(__name__)

# WeChat's payment codes: 18 digits starting 10-15 (docs/counter.md, products doc 4.4).
AUTH_CODE = re.compile(r"1[0-5]\d{16}")
MAX_TOTAL = 10_000_000  # fen (100,000 yuan): far above any counter sale; refuses typos
REVERSE_WINDOW = timedelta(days=7)  # WeChat reverses for 7 days; later, refund
LONG_WAIT = timedelta(minutes=5)  # a loop due later than this is left to a later job run
DESCRIPTION = "Counter sale"
# Refusals that settle the charge: nothing was taken, the order is closed (a new code and a
# new order number are needed). The sources of each are in docs/counter.md ("Error codes"):
# v2, the micropay table's codes marked 支付确认失败 (payment failed for sure); v3, the codes
# of a refused request. Anything else leaves the result unknown, so the same out_trade_no is
# queried and never charged again: SYSTEMERROR, BANKERROR, LACK_PARAMS and NOT_UTF8 (支付结果
# 未知 in the v2 table), ORDERPAID, ORDERCLOSED and ORDERREVERSED (they describe an order that
# exists: the query tells which), any code not listed, no answer.
DEFINITE_REFUSALS = {
    # v2 err_code (the v2 client hands NOTENOUGH over as NOT_ENOUGH)
    "AUTHCODEEXPIRE",
    "AUTH_CODE_ERROR",
    "AUTH_CODE_INVALID",
    "NOTSUPORTCARD",  # WeChat's spelling
    "NOAUTH",
    "BUYER_MISMATCH",
    "PARAM_ERROR",
    "TRADE_ERROR",
    "SIGNERROR",
    "APPID_MCHID_NOT_MATCH",
    "APPID_NOT_EXIST",
    "MCHID_NOT_EXIST",
    # v3 code (4xx); older pages write some without underscores
    "NOT_ENOUGH",
    "NOTENOUGH",
    "NO_AUTH",
    "RULE_LIMIT",
    "RULELIMIT",
    "ACCOUNT_ERROR",
    "ACCOUNTERROR",
    "INVALID_REQUEST",
    "SIGN_ERROR",
    "MCH_NOT_EXISTS",
    # refused here, before anything was sent (wechatpay.core.errors)
    "UNSUPPORTED",
}
# A reverse's answers that mean "call again" (docs/counter.md, "Reverse"): the PIN dialog is
# still open, WeChat's or the bank's system is busy; and no answer at all. Any other refusal
# (REVERSE_EXPIRE, NOAUTH, a missing client certificate, a bad signature...) will not change by
# itself: it goes before a person at once, and so does a reverse still not done after
# ``Timing.reverse_attempts`` calls; the job then tries again every STUCK_RETRY only.
REVERSE_AGAIN = {"USERPAYING", "SYSTEMERROR", "SYSTEM_ERROR", "BANKERROR", "BANK_ERROR"}
STUCK_RETRY = timedelta(hours=1)
REVERSE_FAILED = "REVERSE_FAILED"  # the Needs attention item: a PaymentEvent REFUSED.<this>
payments_table = CounterPayment.__table__


@dataclass(frozen=True)
class Timing:
    """The loop's settings (docs/counter.md; COUNTER_* in docs/configuration.md)."""

    poll: float = 5.0  # seconds between queries while the customer types the PIN
    pin_timeout: float = 45.0  # seconds from the charge before giving up and reversing
    reverse_after: float = 15.0  # no reverse sooner than this after the charge
    lease: float = 30.0  # how long a driver owns a loop without renewing it
    reverse_attempts: int = 30  # reverse calls before a person is told (then hourly)


def check_auth_code(value):
    """The auth code as scanned, checked before anything is sent to WeChat."""
    code = value.strip() if isinstance(value, str) else ""
    if not AUTH_CODE.fullmatch(code):
        raise DomainError(
            "AUTH_CODE_INVALID",
            "a WeChat payment code is 18 digits starting with 10 to 15: scan it again",
        )
    return code


def digest(auth_code):
    return hashlib.sha256(auth_code.encode()).hexdigest()


def submit(*, auth_code, lines=None, amount=None, staff_id=None, client_ip=None, context):
    """A new counter order for ``lines`` (product id, quantity; priced here) or a typed
    ``amount`` (fen), to be paid by ``auth_code``. Returns (payment, created).

    The same code submitted again (a double Enter, two cashiers, a retry) gets the same payment
    back with created False (AUTH_CODE_USED if it was for another total): only the submission
    that created it starts the loop. Nothing is sent to WeChat here."""
    code = check_auth_code(auth_code)
    if lines:
        items = checkout.priced(checkout.merge_lines(lines))
        total = sum(item.amount for item in items)
    else:
        items = []
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount:
            raise DomainError("INVALID_AMOUNT", "give products or a positive amount in fen")
        total = amount
    if total > MAX_TOTAL:
        raise DomainError("INVALID_AMOUNT", f"at most {MAX_TOTAL} fen at the counter")
    key = digest(code)
    existing = _by_digest(key)
    if existing is not None:
        return _replay(existing, total), False
    if context.gateway is None:
        raise DomainError("PAYMENTS_NOT_CONFIGURED", "payments are not configured")
    order = Order(
        out_trade_no=checkout.new_out_trade_no(),  # one new number per code, always
        channel=context.channel,
        trade_type=context.trade_type,
        appid=context.appid,
        mchid=context.mchid,
        sub_mchid=context.sub_mchid,
        sub_appid=context.sub_appid,
        api_version=context.api_version,
        description=(items[0].name if len(items) == 1 else DESCRIPTION)[:127],
        total=total,
        time_expire=payments.order_expiry(context.order_timeout_minutes),
        client_ip=client_ip,
        items=items,
    )
    for name, empty in (("refunds", []), ("refund_requests", []), ("shipment", None)):
        set_committed_value(order, name, empty)
    payment = CounterPayment(
        order=order,
        auth_code_digest=key,
        auth_code_tail=code[-4:],
        staff_id=staff_id,
        state=CounterPayment.CHARGING,
        next_at=utcnow(),
    )
    db.session.add_all([order, payment])
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = _by_digest(key)
        if existing is None:
            raise
        return _replay(existing, total), False  # a concurrent submission won
    return payment, True


def _by_digest(key):
    return db.session.execute(
        db.select(CounterPayment).filter_by(auth_code_digest=key)
    ).scalar_one_or_none()


def _replay(payment, total):
    if payment.order.total != total:
        raise DomainError(
            "AUTH_CODE_USED",
            "this payment code paid another sale: ask the customer for a fresh code",
            order_id=payment.order_id,
        )
    return payment


def for_order(order_id):
    return db.session.execute(
        db.select(CounterPayment).filter_by(order_id=order_id)
    ).scalar_one_or_none()


# --- the loop ----------------------------------------------------------------------------------


def drive(payment_id, *, gateway_of, timing, auth_code=None, sleep=time.sleep):
    """Run the loop of one payment until it ends; returns its final state, or "busy" when
    another driver holds it. ``gateway_of(order)`` is the order's gateway; ``auth_code`` is
    given only by the submission that created the payment (it is never stored): without it a
    payment never sent is closed, as nothing was charged."""
    owner = secrets.token_hex(8)
    while True:
        if not _claim(payment_id, owner, timing):
            db.session.commit()
            payment = db.session.get(CounterPayment, payment_id)
            db.session.refresh(payment)
            return payment.state if payment.state in CounterPayment.FINAL else "busy"
        db.session.commit()
        payment = db.session.get(CounterPayment, payment_id)
        db.session.refresh(payment)
        if payment.state in CounterPayment.FINAL:
            return payment.state
        wait = (as_utc(payment.next_at) - utcnow()).total_seconds()
        if wait > LONG_WAIT.total_seconds():
            # Set aside (a mismatch for a person, say): no driver sleeps that long; a later
            # run of the job comes back to it.
            _move(payment, owner, payment.state, owner=None)
            db.session.commit()
            return "later"
        if wait > 0:
            db.session.rollback()  # hold no transaction while waiting
            sleep(min(wait, timing.lease / 3))
            continue
        order = db.session.get(Order, payment.order_id)
        try:
            _step(payment, order, owner, gateway_of(order), timing, auth_code)
        except payments.PaymentMismatch:
            # WeChat's word contradicts the order (kept for a person, Needs attention): the
            # loop stops here, open, rather than guess; the job looks again in an hour.
            db.session.rollback()
            _move(payment, owner, payment.state, next_at=utcnow() + timedelta(hours=1))
            db.session.commit()
            return payment.state
        auth_code = None  # one charge per code, ever


def _claim(payment_id, owner, timing):
    """Take (or renew) the lease of an open payment: True for one driver at a time."""
    now = utcnow()
    result = db.session.connection().execute(
        update(payments_table)
        .where(
            payments_table.c.id == payment_id,
            payments_table.c.state.in_(CounterPayment.OPEN),
            or_(
                payments_table.c.owner.is_(None),
                payments_table.c.owner == owner,
                payments_table.c.lease_until < now,
            ),
        )
        .values(owner=owner, lease_until=now + timedelta(seconds=timing.lease))
    )
    return result.rowcount == 1


def _move(payment, driver, from_state, **values):
    """One compare-and-set: the payment moves only if it is still ``from_state`` and ours."""
    result = db.session.connection().execute(
        update(payments_table)
        .where(
            payments_table.c.id == payment.id,
            payments_table.c.state == from_state,
            payments_table.c.owner == driver,
        )
        .values(updated_at=utcnow(), **values)
    )
    return result.rowcount == 1


def _step(payment, order, owner, gateway, timing, auth_code):
    state = payment.state
    if state == CounterPayment.CHARGING:
        _charge(payment, order, owner, gateway, timing, auth_code)
    elif state in (CounterPayment.UNKNOWN, CounterPayment.PAYING):
        _query(payment, order, owner, gateway, timing)
    elif state == CounterPayment.REVERSING:
        _reverse(payment, order, owner, gateway, timing)


def _later(seconds):
    return utcnow() + timedelta(seconds=seconds)


def _charge(payment, order, owner, gateway, timing, auth_code):
    if auth_code is None:  # the worker that had the code died before sending it
        _end(payment, order, owner, CounterPayment.CLOSED, "NOT_SENT")
        return
    # Moved before sending: if this driver dies during the call, the next one queries.
    if not _move(
        payment,
        owner,
        CounterPayment.CHARGING,
        state=CounterPayment.UNKNOWN,
        charged_at=utcnow(),
        next_at=_later(timing.poll),
    ):
        db.session.rollback()
        return
    db.session.commit()
    request = gw.CodepayRequest(
        out_trade_no=order.out_trade_no,
        description=order.description,
        total=order.total,
        auth_code=auth_code,
        device_ip=order.client_ip,
    )
    try:
        transaction = gateway.charge_auth_code(request)
    except ApiError as exc:
        log.info("charge of %s: %s", order.out_trade_no, exc.summary)
        if exc.code in DEFINITE_REFUSALS:
            _end(
                payment, order, owner, CounterPayment.CLOSED, exc.code[:32], CounterPayment.UNKNOWN
            )
        else:  # SYSTEMERROR, BANKERROR...: unknown; the reason stays for the cashier
            _move(payment, owner, CounterPayment.UNKNOWN, reason=exc.code[:32])
            db.session.commit()
        return
    except WeChatPayError as exc:  # a timeout, a lost or bad answer: unknown, query
        log.warning("charge of %s: %s", order.out_trade_no, exc.summary)
        return
    if transaction.trade_state in (gw.SUCCESS, gw.REFUND):
        _paid(payment, order, owner, transaction, "apply", CounterPayment.UNKNOWN)
    elif transaction.trade_state == gw.USERPAYING:
        _move(payment, owner, CounterPayment.UNKNOWN, state=CounterPayment.PAYING)
        db.session.commit()


def _query(payment, order, owner, gateway, timing):
    state = payment.state
    try:
        transaction = gateway.query_order(order.out_trade_no)
    except WeChatPayError as exc:  # ORDER_NOT_EXIST (the charge never arrived), no answer
        log.info("query of %s: %s", order.out_trade_no, exc.summary)
        transaction = None
    trade_state = transaction.trade_state if transaction else None
    if trade_state in (gw.SUCCESS, gw.REFUND):
        _paid(payment, order, owner, transaction, "query", state)
        return
    if trade_state == gw.PAYERROR:
        _end(payment, order, owner, CounterPayment.CLOSED, payment.reason or "PAYERROR", state)
        return
    if trade_state == gw.CLOSED:
        _end(payment, order, owner, CounterPayment.CLOSED, payment.reason or "CLOSED", state)
        return
    if trade_state == gw.REVOKED:
        _end(payment, order, owner, CounterPayment.REVOKED, payment.reason or "REVOKED", state)
        return
    charged_at = as_utc(payment.charged_at)
    if utcnow() >= charged_at + timedelta(seconds=timing.pin_timeout):
        # Still unpaid (or unknown) at the timeout: give up, reverse (never sooner than
        # reverse_after from the charge).
        start = max(utcnow(), charged_at + timedelta(seconds=timing.reverse_after))
        _move(
            payment,
            owner,
            state,
            state=CounterPayment.REVERSING,
            reason="PIN_TIMEOUT" if state == CounterPayment.PAYING else "NO_ANSWER",
            next_at=start,
            queries=payment.queries + 1,
        )
    else:
        _move(payment, owner, state, next_at=_later(timing.poll), queries=payment.queries + 1)
    db.session.commit()


def _reverse(payment, order, owner, gateway, timing):
    charged_at = as_utc(payment.charged_at or payment.created_at)
    not_before = charged_at + timedelta(seconds=timing.reverse_after)
    if utcnow() < not_before:
        _move(payment, owner, CounterPayment.REVERSING, next_at=not_before)
        db.session.commit()
        return
    attempts = payment.reverses + 1
    answer = None  # WeChat's code when it refused; None when it did not answer
    try:
        recall = gateway.reverse_order(order.out_trade_no)
    except ApiError as exc:
        log.info("reverse of %s: %s", order.out_trade_no, exc.summary)
        if exc.code == "ORDER_NOT_EXIST":  # WeChat never had it: nothing was charged
            _end(payment, order, owner, CounterPayment.CLOSED, payment.reason, payment.state)
            return
        recall, answer = True, exc
    except WeChatPayError as exc:  # no answer, or one that could not be read: call again
        log.warning("reverse of %s: %s", order.out_trade_no, exc.summary)
        recall = True
    if not recall:
        _end(payment, order, owner, CounterPayment.REVOKED, payment.reason, payment.state, attempts)
        return
    stuck = (answer is not None and answer.code not in REVERSE_AGAIN) or (
        attempts >= timing.reverse_attempts
    )
    _move(
        payment,
        owner,
        CounterPayment.REVERSING,
        next_at=utcnow() + STUCK_RETRY if stuck else _later(timing.poll),
        reverses=attempts,
    )
    if stuck:
        _needs_attention(order, answer, attempts)
    db.session.commit()


def _needs_attention(order, answer, attempts):
    """Put a reverse that does not go through in front of a person (Needs attention), once
    per order: WeChat's last answer and the attempts so far."""
    code = answer.code if answer is not None else "NO_ANSWER"
    log.error("reverse of %s not done after %d calls: %s", order.out_trade_no, attempts, code)
    payments._record(
        order_id=order.id,
        source="apply",  # our reverse request
        dedupe_key=f"counter-reverse:{order.out_trade_no}",
        event_type=f"REFUSED.{REVERSE_FAILED}",
        trade_state=None,
        payload=payments._json(
            {
                "out_trade_no": order.out_trade_no,
                "code": code,
                "message": answer.message if answer is not None else None,
                "attempts": attempts,
            }
        ),
    )


def _paid(payment, order, owner, transaction, source, from_state):
    payments.apply_transaction(
        transaction,
        source=source,
        dedupe_key=f"counter:{transaction.out_trade_no}:{transaction.trade_state}",
        event_type=f"CODEPAY.{transaction.trade_state}",
        payload=asdict(transaction),
    )
    if _move(payment, owner, from_state, state=CounterPayment.SUCCESS, reason=None, owner=None):
        log.info("counter order %s paid", order.out_trade_no)
    db.session.commit()


def _end(payment, order, owner, final, reason, from_state=None, reverses=None):
    """CLOSED or REVOKED: the payment, then the order, in one transaction."""
    values = {"state": final, "reason": reason, "owner": None}
    if reverses is not None:
        values["reverses"] = reverses
    if _move(payment, owner, from_state or payment.state, **values):
        if final == CounterPayment.REVOKED:
            payments.mark_revoked(order.id)
        else:
            payments.mark_closed(order.id)
        log.info("counter order %s %s (%s)", order.out_trade_no, final, reason)
    db.session.commit()


# --- staff: reverse a paid order ----------------------------------------------------------------


def reverse_paid(order):
    """An admin reverses a paid counter order within WeChat's window: the money goes back
    (the loop sends the reverse). After the window, or once refunds exist, use a refund.

    Decided under the order's row lock, the one a refund takes (``refunds.lock_order``): a
    refund placed meanwhile is seen here, and a refund placed after sees the payment
    REVERSING and is refused (``refunds._place``). Commits."""
    order = refunds.lock_order(order.id)
    payment = for_order(order.id) if order is not None else None
    try:
        if payment is None or payment.state != CounterPayment.SUCCESS or order.status != Order.PAID:
            raise DomainError("ORDER_NOT_REVERSIBLE", "only a paid counter order can be reversed")
        if utcnow() - as_utc(payment.charged_at or payment.created_at) > REVERSE_WINDOW:
            raise DomainError("ORDER_NOT_REVERSIBLE", "past the 7 days of reverse: refund it")
        if db.session.execute(
            db.select(func.count(Refund.id)).where(Refund.order_id == order.id)
        ).scalar_one():
            raise DomainError("ORDER_NOT_REVERSIBLE", "the order has refunds: refund the rest")
    except DomainError:
        db.session.rollback()
        raise
    result = db.session.connection().execute(
        update(payments_table)
        .where(
            payments_table.c.id == payment.id,
            payments_table.c.state == CounterPayment.SUCCESS,
        )
        .values(
            state=CounterPayment.REVERSING,
            reason="STAFF_REVERSED",
            next_at=utcnow(),
            owner=None,
            updated_at=utcnow(),
        )
    )
    db.session.commit()
    if result.rowcount != 1:
        raise DomainError("ORDER_NOT_REVERSIBLE", "the payment changed meanwhile")
    return payment


# --- running loops: a bounded pool, and the job -------------------------------------------------


class Runner:
    """A bounded pool of background loops, one per process: a web request submits and
    returns; the page polls. A loop waiting for its turn here is safe: the job takes over any
    loop whose lease lapsed."""

    def __init__(self, workers):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="counter")
        self.lock = threading.Lock()

    def start(self, payment_id, *, auth_code, context, gateway_of, timing):
        def run():
            with context():
                try:
                    drive(payment_id, gateway_of=gateway_of, timing=timing, auth_code=auth_code)
                except Exception:  # logged; the job finishes the loop
                    log.exception("counter loop %s stopped", payment_id)
                    db.session.rollback()

        return self.pool.submit(run)


def open_payments(timing):
    """Open loops no driver holds (lease lapsed or never taken) whose next step is due."""
    now = utcnow()
    return (
        db.session.execute(
            db.select(CounterPayment.id)
            .where(
                CounterPayment.state.in_(CounterPayment.OPEN),
                or_(CounterPayment.lease_until.is_(None), CounterPayment.lease_until < now),
                CounterPayment.next_at <= now + LONG_WAIT,
                # A payment still CHARGING may be queued in a worker's pool: left to it for a
                # lease, then closed (its code is gone).
                or_(
                    CounterPayment.state != CounterPayment.CHARGING,
                    CounterPayment.created_at < now - timedelta(seconds=timing.lease),
                ),
            )
            .order_by(CounterPayment.id)
        )
        .scalars()
        .all()
    )


def sweep(*, gateway_of, timing, context, concurrency=4, deadline=180):
    """Finish every loop left open (call under ``jobs.exclusive("counter")``). Returns
    ({final state: count}, finished)."""
    return bounded(
        open_payments(timing),
        lambda payment_id: drive(payment_id, gateway_of=gateway_of, timing=timing),
        concurrency=concurrency,
        deadline=deadline,
        context=context,
    )

"""Daily bills: download, parse, and reconcile one Beijing day against our orders and refunds.

WeChat does not promise that a notification arrives; its bill of day T (published from about
10:00 on T+1) is the statement of what really happened. ``reconcile(day, ...)`` compares it with
our records and stores a ``ReconciliationRun`` and one ``BillDifference`` per disagreement for a
person. A payment WeChat has and we missed is applied through the normal query path
(``payments.apply_query``), so the money is never silently dropped. No Flask here: the CLI
(``server/cli/bills.py``) and the staff console call these functions.

The bill file (docs/protocol.md B4): a Chinese header line, one line per payment or refund with
every field prefixed by a backtick, a summary header line, and a summary line. Amounts are yuan with
two decimals (fees five); they become integer fen through Decimal, never float.
"""

import csv
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from ..errors import DomainError
from ..extensions import db
from ..models import BillDifference, Order, ReconciliationRun, Refund
from ..timeutil import CHINA, as_utc, utcnow
from ..wechatpay.core.errors import ApiError, BillNotReady, WeChatPayError
from . import payments, refunds

log = logging.getLogger(__name__)

# Kinds of difference, and what each one means (docs/reconciliation.md says what to do).
UNKNOWN_PAYMENT = "UNKNOWN_PAYMENT"  # WeChat took money for an order we don't have
MISSED_PAYMENT = "MISSED_PAYMENT"  # WeChat paid, we had it unpaid: applied by query
PAID_NOT_IN_BILL = "PAID_NOT_IN_BILL"  # we say paid, WeChat's bills (day +-1) don't
AMOUNT_MISMATCH = "AMOUNT_MISMATCH"  # both paid, different amounts
TRADE_TYPE_MISMATCH = "TRADE_TYPE_MISMATCH"  # paid under another trade type (交易类型) than ours
# Fees on the bill have five decimals (yuan), so they are not whole fen.
FEE_PLACES = Decimal("0.00001")
UNKNOWN_REFUND = "UNKNOWN_REFUND"  # WeChat has a refund we have no record of
REFUND_STATUS_MISMATCH = "REFUND_STATUS_MISMATCH"
REFUND_AMOUNT_MISMATCH = "REFUND_AMOUNT_MISMATCH"
REFUND_NOT_IN_BILL = "REFUND_NOT_IN_BILL"  # we say refunded, WeChat's bills don't
# Differences that describe a state: when a later run no longer sees one (the notification
# arrived, the neighbouring day's bill showed the payment), that run resolves it. The others
# record something that happened and stay until a person resolves them.
SELF_CLEARING = {
    PAID_NOT_IN_BILL,
    AMOUNT_MISMATCH,
    TRADE_TYPE_MISMATCH,
    REFUND_STATUS_MISMATCH,
    REFUND_AMOUNT_MISMATCH,
    REFUND_NOT_IN_BILL,
}

# Refund states in the bill (退款状态) as the refund API names them (CONTRACTS "Refunds").
BILL_REFUND_STATUS = {
    "SUCCESS": "SUCCESS",
    "PROCESSING": "PROCESSING",
    "FAIL": "CLOSED",
    "REFUNDCLOSE": "CLOSED",
    "CLOSED": "CLOSED",
    "CHANGE": "ABNORMAL",
}
# Summary column -> the detail column it totals (trade bill, current and older layouts).
TRADE_SUMMARY = {
    "应结订单总金额": "应结订单金额",
    "退款总金额": "退款金额",
    "充值券退款总金额": "充值券退款金额",
    "订单总金额": "订单金额",
    "申请退款总金额": "申请退款金额",
    "总交易额": "总金额",
}
CENT = Decimal("0.01")
AMOUNT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,2})?")


# --- parsing ---------------------------------------------------------------------------------


@dataclass
class Bill:
    """A parsed bill: rows and summary by column name (unknown columns are kept)."""

    header: list
    rows: list
    summary: dict = field(default_factory=dict)


def parse_bill(data):
    """Parse a bill's bytes (UTF-8 with or without BOM, CRLF or LF). Raises DomainError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError("BILL_MALFORMED", "bill is not UTF-8") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].startswith("`"):
        raise DomainError("BILL_MALFORMED", "bill has no header line")
    header = _names(lines[0])
    # Detail and summary lines start with a backtick; the summary header does not.
    summary_at = next(
        (i for i in range(len(lines) - 1, 0, -1) if not lines[i].startswith("`")), None
    )
    if summary_at is None or summary_at != len(lines) - 2:
        raise DomainError("BILL_MALFORMED", "bill lacks its summary header and summary line")
    rows = [_record(header, line) for line in lines[1:summary_at]]
    summary = _record(_names(lines[summary_at]), lines[summary_at + 1])
    return Bill(header=header, rows=rows, summary=summary)


def _names(line):
    # Some layouts write 收支金额（元） with full-width brackets; name columns one way.
    return [name.strip().replace("（", "(").replace("）", ")") for name in line.split(",")]


def _record(names, line):
    if not line.startswith("`"):
        raise DomainError("BILL_MALFORMED", "a bill line does not start with a backtick")
    # Split on ",`" rather than ",": a comma inside a value (a product name) is not followed
    # by a backtick, so it stays in its field.
    values = line[1:].split(",`")
    if len(values) != len(names):
        raise DomainError(
            "BILL_MALFORMED", f"a bill line has {len(values)} fields for {len(names)} columns"
        )
    return dict(zip(names, values, strict=True))


def to_fen(yuan):
    """'12.34' -> 1234 exactly (Decimal, never float); DomainError for anything else, such as
    '0.001', '1e3' or 'NaN': bills write plain yuan with at most two decimals."""
    text = yuan.strip() if isinstance(yuan, str) else ""
    if not AMOUNT.fullmatch(text):
        raise DomainError("BILL_MALFORMED", f"not an amount in yuan: {str(yuan)[:20]!r}")
    return int(Decimal(text) * 100)


def _decimal(value):
    try:
        return Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise DomainError("BILL_MALFORMED", f"not a number: {str(value)[:20]!r}") from None


def check_trade_summary(bill):
    """The summary line must total the rows: count and every amount column it sums."""
    _check_count(bill, "总交易单数")
    for total_name, column in TRADE_SUMMARY.items():
        if total_name in bill.summary and column in bill.header:
            _check_total(bill.summary[total_name], [row[column] for row in bill.rows], total_name)
    if "手续费总金额" in bill.summary and "手续费" in bill.header:
        # Fees carry five decimals per row; the summary may be rounded to the fen.
        total = sum((_decimal(row["手续费"]) for row in bill.rows), Decimal(0))
        if abs(total - _decimal(bill.summary["手续费总金额"])) >= CENT:
            raise DomainError("BILL_SUMMARY_MISMATCH", "手续费总金额 does not total the rows")


def check_fund_flow_summary(bill):
    _check_count(bill, "资金流水总笔数")
    for kind, count_name, total_name in (
        ("收入", "收入笔数", "收入金额"),
        ("支出", "支出笔数", "支出金额"),
    ):
        rows = [row for row in bill.rows if row.get("收支类型") == kind]
        if count_name in bill.summary and _decimal(bill.summary[count_name]) != len(rows):
            raise DomainError("BILL_SUMMARY_MISMATCH", f"{count_name} does not count the rows")
        if total_name in bill.summary:
            _check_total(
                bill.summary[total_name], [row["收支金额(元)"] for row in rows], total_name
            )


def _check_count(bill, name):
    if name not in bill.summary:
        raise DomainError("BILL_MALFORMED", f"summary lacks {name}")
    if _decimal(bill.summary[name]) != len(bill.rows):  # "20.0" in some bills
        raise DomainError(
            "BILL_SUMMARY_MISMATCH",
            f"{name} is {bill.summary[name]}, the bill has {len(bill.rows)} rows",
        )


def _check_total(summary_value, values, name):
    if sum(to_fen(value) for value in values) != to_fen(summary_value):
        raise DomainError("BILL_SUMMARY_MISMATCH", f"{name} does not total the rows")


@dataclass(frozen=True)
class BillPayment:
    out_trade_no: str
    transaction_id: str
    total: int  # fen: the order amount (订单金额; 总金额 in the older layout)
    time: str
    trade_type: str = ""  # 交易类型: JSAPI, NATIVE, MWEB, APP, MICROPAY


@dataclass(frozen=True)
class BillRefund:
    out_refund_no: str
    out_trade_no: str
    refund_id: str
    amount: int  # fen: the refund asked for (申请退款金额; 退款金额 in older layouts)
    status: str  # as the refund API names it: SUCCESS | PROCESSING | CLOSED | ABNORMAL
    time: str


def trade_entries(bill):
    """The payments and refunds of a trade bill."""
    paid, refunded = [], []
    for row in bill.rows:
        if row.get("交易状态") == "REFUND":
            amount = row.get("申请退款金额") or row.get("退款金额")
            status = row.get("退款状态", "")
            refunded.append(
                BillRefund(
                    out_refund_no=row.get("商户退款单号", ""),
                    out_trade_no=row.get("商户订单号", ""),
                    refund_id=row.get("微信退款单号", ""),
                    amount=to_fen(amount),
                    status=BILL_REFUND_STATUS.get(status, status),
                    time=row.get("交易时间", ""),
                )
            )
        elif row.get("交易状态") == "SUCCESS":
            amount = row.get("订单金额") or row.get("总金额") or row.get("应结订单金额")
            paid.append(
                BillPayment(
                    out_trade_no=row.get("商户订单号", ""),
                    transaction_id=row.get("微信订单号", ""),
                    total=to_fen(amount),
                    time=row.get("交易时间", ""),
                    trade_type=row.get("交易类型", ""),
                )
            )
    return paid, refunded


# --- reconciliation --------------------------------------------------------------------------


def beijing_today(now=None):
    return (now or datetime.now(UTC)).astimezone(CHINA).date()


def day_window(day):
    """[start, end) of a Beijing day, in UTC (how times are stored)."""
    start = datetime.combine(day, time(0), tzinfo=CHINA).astimezone(UTC)
    return start, start + timedelta(days=1)


@dataclass
class Found:
    """One difference as this run sees it, before it is stored."""

    kind: str
    key: str
    out_trade_no: str = None
    out_refund_no: str = None
    ours: str = None
    wechat: str = None
    detail: str = None


def reconcile(day, *, gateway, gateway_for):
    """Reconcile one Beijing day of one merchant: ``gateway`` is the merchant's (either API
    version: the bill is the merchant's), ``gateway_for(order)`` the gateway an order was
    placed with (``channels.payment_context(order).gateway``), to ask WeChat about a payment
    or refund the bill shows and we missed. Returns the day's ReconciliationRun (committed).

    Raises BillNotReady when WeChat has not made the bill yet (try later) and DomainError /
    WeChatPayError when the bill cannot be had or trusted (a hash mismatch among them); then
    nothing of the bill is kept and the run records why.
    """
    # Whose bill: the merchant's, or (a service provider's gateway bound to a store) that
    # sub-merchant's lines of the provider's bill; the run is kept under that id.
    mchid = gateway.sub_mchid or gateway.mchid
    try:
        trade_raw = gateway.download_trade_bill(day)
        trade = parse_bill(trade_raw) if trade_raw is not None else None
        if trade is not None:
            check_trade_summary(trade)
        fund_raw, fund_note = _fund_flow(gateway, day)
    except BillNotReady:
        raise
    except (DomainError, WeChatPayError) as exc:
        _record_failure(day, mchid, exc)
        raise

    paid, refunded = trade_entries(trade) if trade else ([], [])
    _clear_previous_day(day, mchid, paid, refunded)
    neighbours = _neighbour_bills(gateway, day)
    found = _compare_payments(day, mchid, paid, gateway_for, neighbours) + _compare_refunds(
        day, mchid, refunded, gateway_for, neighbours
    )

    start, end = day_window(day)
    ours_paid = _orders_paid(start, end, mchid)
    ours_refunds = _refunds_succeeded(start, end, mchid)
    totals = dict(
        bill_rows=len(trade.rows) if trade else 0,
        payments_wechat=len(paid),
        paid_total_wechat=sum(p.total for p in paid),
        payments_ours=len(ours_paid),
        paid_total_ours=sum(o.total for o in ours_paid),
        refunds_wechat=len([r for r in refunded if r.status == "SUCCESS"]),
        refunded_total_wechat=sum(r.amount for r in refunded if r.status == "SUCCESS"),
        refunds_ours=len(ours_refunds),
        refunded_total_ours=sum(r.amount for r in ours_refunds),
        fees_wechat=str(
            sum((_decimal(row["手续费"]) for row in trade.rows if "手续费" in row), Decimal(0))
        )
        if trade
        else "0",
        trade_bill_sha1=hashlib.sha1(trade_raw).hexdigest() if trade_raw else None,
        fund_flow_bill_sha1=hashlib.sha1(fund_raw).hexdigest() if fund_raw else None,
        trade_bill=trade_raw.decode("utf-8-sig") if trade_raw else None,
        message=fund_note,
    )
    return _store(day, mchid, totals, found)


def _fund_flow(gateway, day):
    """The fund flow bill (checked) and a note when there is none to check."""
    try:
        raw = gateway.download_fund_flow_bill(day)
    except ApiError as exc:
        if exc.code != "CLIENT_CERT_NOT_CONFIGURED":  # v2 without the API certificate
            raise
        return None, f"fund flow bill not checked: {exc.message}"
    if raw is None:
        return None, "no fund flow bill for this day"
    check_fund_flow_summary(parse_bill(raw))
    return raw, None


def _compare_payments(day, mchid, paid, gateway_for, neighbours):
    found = []
    in_bill = set()
    orders = _by_key(Order.out_trade_no, [entry.out_trade_no for entry in paid], mchid)
    for entry in paid:
        in_bill.add(entry.out_trade_no)
        order = orders.get(entry.out_trade_no)
        wechat = f"paid {entry.total} fen at {entry.time} ({entry.transaction_id})"
        if order is None:
            found.append(
                Found(
                    UNKNOWN_PAYMENT,
                    f"{UNKNOWN_PAYMENT}:{entry.out_trade_no}",
                    entry.out_trade_no,
                    wechat=wechat,
                    detail="WeChat took this payment; we have no such order",
                )
            )
        elif order.total != entry.total:
            found.append(
                Found(
                    AMOUNT_MISMATCH,
                    f"{AMOUNT_MISMATCH}:{entry.out_trade_no}",
                    entry.out_trade_no,
                    ours=f"{order.status} {order.total} fen",
                    wechat=wechat,
                    detail="the order was left as it is",
                )
            )
        elif order.status in (Order.NOTPAY, Order.CLOSED):
            found.append(_apply_missed(order, entry, wechat, gateway_for))
        if order is not None and entry.trade_type and entry.trade_type != order.trade_type:
            found.append(
                Found(
                    TRADE_TYPE_MISMATCH,
                    f"{TRADE_TYPE_MISMATCH}:{entry.out_trade_no}",
                    entry.out_trade_no,
                    ours=f"{order.status} {order.trade_type}",
                    wechat=f"{entry.trade_type} {wechat}",
                    detail="the order was left as it is",
                )
            )
    found += _paid_not_in_bill(day, mchid, in_bill, neighbours)
    return found


def _by_key(column, keys, mchid, chunk=500):
    """{key: row} of the merchant's rows (orders, or refunds of its orders) whose ``column``
    is one of ``keys``, in a few queries."""
    keys, rows = sorted(set(keys)), {}
    for start in range(0, len(keys), chunk):
        query = db.select(column.class_).where(column.in_(keys[start : start + chunk]))
        if column.class_ is Refund:
            query = query.join(Order, Order.id == Refund.order_id)
        for row in db.session.execute(query.where(merchants_orders(mchid))).scalars():
            rows[getattr(row, column.key)] = row
    return rows


def _apply_missed(order, entry, wechat, gateway_for):
    """We have the order unpaid, WeChat's bill says paid: ask WeChat (as the order was placed)
    and apply its answer."""
    ours = f"{order.status} {order.total} fen"
    try:
        outcome = payments.apply_query(order, gateway_for(order))
        detail = f"queried WeChat and applied: {outcome}"
    except (WeChatPayError, DomainError) as exc:  # PaymentMismatch, not configured
        db.session.rollback()
        detail = f"query failed ({getattr(exc, 'code', exc)}); the next run tries again"
    return Found(
        MISSED_PAYMENT,
        f"{MISSED_PAYMENT}:{entry.out_trade_no}",
        entry.out_trade_no,
        ours=ours,
        wechat=wechat,
        detail=detail,
    )


def _paid_not_in_bill(day, mchid, in_bill, neighbours):
    start, end = day_window(day)
    missing = [o for o in _orders_paid(start, end, mchid) if o.out_trade_no not in in_bill]
    # A payment at 23:59:59 may be in the next day's bill (or ours recorded it a moment late):
    # look at both neighbours (downloaded only when something is missing) before flagging.
    missing = [o for o in missing if o.out_trade_no not in neighbours()[0]]
    return [
        Found(
            PAID_NOT_IN_BILL,
            f"{PAID_NOT_IN_BILL}:{o.out_trade_no}",
            o.out_trade_no,
            ours=f"{o.status} {o.total} fen at "
            f"{as_utc(o.paid_at).astimezone(CHINA):%Y-%m-%d %H:%M:%S}",
            detail="not in this day's bill nor its neighbours'",
        )
        for o in missing
    ]


def _neighbour_bills(gateway, day):
    """A function returning (out_trade_nos, out_refund_nos) of the bills of the day before and
    the day after; they are downloaded on the first call only."""
    cache = []

    def references():
        if not cache:
            trade_nos, refund_nos = set(), set()
            for other in (day - timedelta(days=1), day + timedelta(days=1)):
                paid, refunded = _entries_of(gateway, other)
                trade_nos |= {entry.out_trade_no for entry in paid}
                refund_nos |= {entry.out_refund_no for entry in refunded}
            cache.append((trade_nos, refund_nos))
        return cache[0]

    return references


def _entries_of(gateway, day):
    """Payments and refunds of another day's bill; empty when it has none (yet)."""
    try:
        raw = gateway.download_trade_bill(day)
        if raw is None:
            return [], []
        bill = parse_bill(raw)
        check_trade_summary(bill)
        return trade_entries(bill)
    except (BillNotReady, DomainError, WeChatPayError) as exc:
        log.warning(
            "bill of %s not usable for the midnight check: %s", day, getattr(exc, "code", exc)
        )
        return [], []


def _compare_refunds(day, mchid, refunded, gateway_for, neighbours):
    found = []
    in_bill = set()
    ours = _by_key(Refund.out_refund_no, [entry.out_refund_no for entry in refunded], mchid)
    for entry in refunded:
        in_bill.add(entry.out_refund_no)
        refund = ours.get(entry.out_refund_no)
        wechat = f"{entry.status} {entry.amount} fen at {entry.time} ({entry.refund_id})"
        if refund is None:
            found.append(
                Found(
                    UNKNOWN_REFUND,
                    f"{UNKNOWN_REFUND}:{entry.out_refund_no}",
                    entry.out_trade_no,
                    entry.out_refund_no,
                    wechat=wechat,
                    detail="WeChat has this refund; we have no record of it",
                )
            )
        elif refund.amount != entry.amount:
            found.append(
                Found(
                    REFUND_AMOUNT_MISMATCH,
                    f"{REFUND_AMOUNT_MISMATCH}:{entry.out_refund_no}",
                    entry.out_trade_no,
                    entry.out_refund_no,
                    f"{refund.status} {refund.amount} fen",
                    wechat,
                    "the refund was left as it is",
                )
            )
        elif refund.status != entry.status:
            found.append(_sync_refund(refund, entry, wechat, gateway_for))
    start, end = day_window(day)
    missing = [r for r in _refunds_succeeded(start, end, mchid) if r.out_refund_no not in in_bill]
    missing = [r for r in missing if r.out_refund_no not in neighbours()[1]]
    return found + [
        Found(
            REFUND_NOT_IN_BILL,
            f"{REFUND_NOT_IN_BILL}:{r.out_refund_no}",
            r.order.out_trade_no,
            r.out_refund_no,
            ours=f"{r.status} {r.amount} fen",
            detail="not in this day's bill nor its neighbours'",
        )
        for r in missing
    ]


def _sync_refund(refund, entry, wechat, gateway_for):
    """Our refund's state differs from the bill's: ask WeChat and apply its answer (the refund
    domain's query path), as a missed payment is applied. Never sent again, even if ours is
    still PENDING: the bill shows that WeChat has it."""
    ours = f"{refund.status} {refund.amount} fen"
    try:
        outcome = refunds.query_refund(refund, gateway=gateway_for(refund.order))
        detail = f"queried WeChat and applied: {outcome}"
    except (WeChatPayError, DomainError) as exc:
        db.session.rollback()
        detail = f"query failed ({getattr(exc, 'code', exc)}); the next run tries again"
    return Found(
        REFUND_STATUS_MISMATCH,
        f"{REFUND_STATUS_MISMATCH}:{entry.out_refund_no}",
        entry.out_trade_no,
        entry.out_refund_no,
        ours,
        wechat,
        detail,
    )


def _clear_previous_day(day, mchid, paid, refunded):
    """Yesterday's run looked for its late-evening payments in this day's bill before it was
    published; whatever this bill has is not missing after all."""
    previous = db.session.execute(
        db.select(ReconciliationRun).where(
            ReconciliationRun.day == day - timedelta(days=1), ReconciliationRun.mchid == mchid
        )
    ).scalar_one_or_none()
    if previous is None:
        return
    here = {(PAID_NOT_IN_BILL, p.out_trade_no) for p in paid} | {
        (REFUND_NOT_IN_BILL, r.out_refund_no) for r in refunded
    }
    for diff in run_differences(previous.id, open_only=True):
        if (diff.kind, diff.out_refund_no or diff.out_trade_no) in here:
            diff.resolved_by, diff.resolved_at = "reconcile", utcnow()
            diff.note = f"found in the bill of {day}"
    _settle_status(previous)
    db.session.commit()


def merchants_orders(mchid):
    """Orders of the bill of ``mchid``: a merchant's (a service provider's: all its stores'),
    or one sub-merchant's (a store's bill, server/stores.py)."""
    return or_(Order.mchid == mchid, Order.sub_mchid == mchid)


def _orders_paid(start, end, mchid):
    """The merchant's orders paid in [start, end)."""
    return (
        db.session.execute(
            db.select(Order)
            .where(Order.paid_at >= start, Order.paid_at < end, merchants_orders(mchid))
            .order_by(Order.paid_at)
        )
        .scalars()
        .all()
    )


def _refunds_succeeded(start, end, mchid):
    """The merchant's refunds that succeeded in [start, end)."""
    return (
        db.session.execute(
            db.select(Refund)
            .join(Order, Order.id == Refund.order_id)
            .where(
                merchants_orders(mchid),
                Refund.status == Refund.SUCCESS,
                Refund.succeeded_at >= start,
                Refund.succeeded_at < end,
            )
        )
        .scalars()
        .all()
    )


def _run_for(day, mchid):
    run = db.session.execute(
        db.select(ReconciliationRun).where(
            ReconciliationRun.day == day, ReconciliationRun.mchid == mchid
        )
    ).scalar_one_or_none()
    if run is None:
        run = ReconciliationRun(day=day, mchid=mchid, status=ReconciliationRun.FAILED)
        db.session.add(run)
        try:
            db.session.flush()
        except IntegrityError:  # another run of this day created it meanwhile
            db.session.rollback()
            return _run_for(day, mchid)
    return run


def _store(day, mchid, totals, found):
    run = _run_for(day, mchid)
    for name, value in totals.items():
        setattr(run, name, value)
    run.started_at = utcnow()
    existing = {d.key: d for d in run.differences}
    seen = set()
    for item in found:
        item.key = item.key[:128]
        seen.add(item.key)
        diff = existing.get(item.key)
        if diff is None:
            diff = BillDifference(run=run, key=item.key, kind=item.kind)
            db.session.add(diff)
        # Refreshed on every run; who resolved it, when and why is never touched here. A bill
        # may carry references longer than ours (another system on the same merchant account).
        diff.out_trade_no = _clip(item.out_trade_no, 32)
        diff.out_refund_no = _clip(item.out_refund_no, 64)
        diff.ours, diff.wechat = _clip(item.ours, 200), _clip(item.wechat, 200)
        diff.detail = _clip(item.detail, 500)
    now = utcnow()
    for key, diff in existing.items():
        if key not in seen and diff.kind in SELF_CLEARING and diff.resolved_at is None:
            diff.resolved_by, diff.resolved_at = "reconcile", now
            diff.note = "no longer differs on a later run"
    db.session.flush()
    _settle_status(run)
    run.finished_at = utcnow()
    db.session.commit()
    return run


def _clip(text, length):
    return text[:length] if text else text


def _settle_status(run):
    """DIFFERENCES while any is open; otherwise CLEAN, or NO_BILL for a day without a bill."""
    if run_differences(run.id, open_only=True):
        run.status = ReconciliationRun.DIFFERENCES
    else:
        run.status = ReconciliationRun.CLEAN if run.trade_bill_sha1 else ReconciliationRun.NO_BILL


def _record_failure(day, mchid, exc):
    """Say why a day could not be reconciled; nothing of the bill is kept."""
    db.session.rollback()
    run = _run_for(day, mchid)
    run.status = ReconciliationRun.FAILED
    run.message = (
        f"{getattr(exc, 'code', type(exc).__name__)}: {getattr(exc, 'message', str(exc))}"[:500]
    )
    run.finished_at = utcnow()
    db.session.commit()


# --- for the CLI and the staff console -------------------------------------------------------


def list_runs(limit=60, mchid=None):
    """The latest runs, newest day first; ``mchid``: that merchant's (or store's) only."""
    query = db.select(ReconciliationRun)
    if mchid is not None:
        query = query.where(ReconciliationRun.mchid == mchid)
    return (
        db.session.execute(
            query.order_by(ReconciliationRun.day.desc(), ReconciliationRun.mchid).limit(limit)
        )
        .scalars()
        .all()
    )


def get_run(run_id):
    run = db.session.get(ReconciliationRun, run_id)
    if run is None:
        raise DomainError("RUN_NOT_FOUND", "no reconciliation run with this id")
    return run


def run_differences(run_id, open_only=False):
    query = db.select(BillDifference).where(BillDifference.run_id == run_id)
    if open_only:
        query = query.where(BillDifference.resolved_at.is_(None))
    return db.session.execute(query.order_by(BillDifference.id)).scalars().all()


def open_differences():
    """Every unresolved difference of every day (the console's "needs a person" list)."""
    return (
        db.session.execute(
            db.select(BillDifference)
            .where(BillDifference.resolved_at.is_(None))
            .order_by(BillDifference.id)
        )
        .scalars()
        .all()
    )


def resolve_difference(diff_id, by, note):
    """Mark a difference resolved by a person, with why. One compare-and-set UPDATE: a
    difference is resolved once, however many people click at the same moment."""
    note = (note or "").strip()
    if not note:
        raise DomainError(
            "NOTE_REQUIRED", "write a note saying what was done about this difference"
        )
    if len(note) > 1000 or not by or len(by) > 64:
        raise DomainError("INVALID_INPUT", "note is at most 1000 characters, by at most 64")
    resolved = (
        db.session.execute(
            update(BillDifference)
            .where(BillDifference.id == diff_id, BillDifference.resolved_at.is_(None))
            .values(resolved_by=by, resolved_at=utcnow(), note=note)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if not resolved:
        db.session.rollback()
        if db.session.get(BillDifference, diff_id) is None:
            raise DomainError("DIFFERENCE_NOT_FOUND", "no difference with this id")
        raise DomainError("ALREADY_RESOLVED", "someone resolved this difference already")
    diff = db.session.get(BillDifference, diff_id)
    db.session.refresh(diff)
    _settle_status(diff.run)
    db.session.commit()
    return diff


def bill_csv(run_id):
    """The run's trade bill as plain CSV (backticks gone, quoted where needed), for download.

    Starts with a BOM so that spreadsheet programs read the Chinese header as UTF-8.
    """
    run = get_run(run_id)
    if not run.trade_bill:
        raise DomainError("NO_BILL", "this run has no bill")
    bill = parse_bill(run.trade_bill.encode())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(bill.header)
    for row in bill.rows:
        writer.writerow([row[name] for name in bill.header])
    writer.writerow(list(bill.summary))
    writer.writerow(list(bill.summary.values()))
    return "\ufeff" + out.getvalue()


def report(run):
    """The run as text, for the CLI."""

    def yuan(fen):
        return f"{Decimal(fen) / 100:.2f}"

    lines = [f"Reconciliation of {run.day} (Beijing), merchant {run.mchid}: {run.status}"]
    if run.trade_bill_sha1:
        lines.append(f"  trade bill sha1 {run.trade_bill_sha1}, {run.bill_rows} rows")
    if run.fund_flow_bill_sha1:
        lines.append(f"  fund flow bill sha1 {run.fund_flow_bill_sha1}")
    if run.message:
        lines.append(f"  note: {run.message}")
    lines += [
        f"  payments  WeChat {run.payments_wechat} = {yuan(run.paid_total_wechat)} yuan"
        f"   ours {run.payments_ours} = {yuan(run.paid_total_ours)} yuan",
        f"  refunds   WeChat {run.refunds_wechat} = {yuan(run.refunded_total_wechat)} yuan"
        f"   ours {run.refunds_ours} = {yuan(run.refunded_total_ours)} yuan",
        f"  fees (WeChat) {Decimal(run.fees_wechat).quantize(FEE_PLACES, ROUND_HALF_UP)} yuan",
    ]
    diffs = run_differences(run.id)
    for diff in diffs:
        state = f"resolved by {diff.resolved_by}: {diff.note}" if diff.resolved_at else "OPEN"
        lines.append(
            f"  #{diff.id} {diff.kind} {diff.out_refund_no or diff.out_trade_no}"
            f"  ours: {diff.ours or '-'}  WeChat: {diff.wechat or '-'}  [{state}]"
        )
        if diff.detail:
            lines.append(f"      {diff.detail}")
    if not diffs:
        lines.append("  no differences")
    return "\n".join(lines)

"""CSV exports for the accountant: orders (the orders list's filters), refunds (a date range)
and a day's reconciliation.

- UTF-8 with a BOM, so that Excel reads the Chinese as Chinese; CRLF line ends.
- Headers in the staff member's language; money in yuan with two decimals, plus the raw fen
  (the only place fen appear), states by name plus their code.
- Streamed: rows are read from the database in batches (``yield_per``: a server-side cursor
  on PostgreSQL) and written out a batch at a time, so a year of orders never sits in memory.
- Audited before the first byte: who exported which personal data (the orders' payers and
  recipients: name, phone, address), with which filters.
"""

import csv
import io
from datetime import timedelta

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.orm import selectinload

from ..domain import bills
from ..errors import DomainError
from ..extensions import db
from ..models import BillDifference, Order, Refund, User
from ..timeutil import CHINA, as_utc
from . import audit, bp, labels, login_required
from .forms import ExportForm, OrderFilterForm, fen_to_yuan
from .views import STATUS_FILTER_LABELS, beijing_midnight, order_query

BATCH = 500  # rows read, written and sent at a time
BOM = "\ufeff"


def csv_response(rows, filename):
    """A streamed CSV download of ``rows`` (an iterable of lists), BOM first."""

    def generate():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        out.write(BOM)
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
            if count % BATCH == 0:
                yield out.getvalue().encode("utf-8")
                out.seek(0)
                out.truncate()
        yield out.getvalue().encode("utf-8")

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f"attachment; filename={filename}",
            "Cache-Control": "no-store",  # personal data: not for shared caches
            "X-Accel-Buffering": "no",  # nginx passes it on as it comes
        },
    )


def when(value):
    return as_utc(value).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def money(fen):
    return fen_to_yuan(fen) if fen is not None else ""


def stream(query):
    """The rows of ``query``, fetched BATCH at a time."""
    return db.session.execute(query.execution_options(yield_per=BATCH))


# --- the exports page ---------------------------------------------------------------------------


@bp.get("/exports")
@login_required
def exports():
    today = bills.beijing_today()
    form = ExportForm(formdata=None, start=today.replace(day=1), end=today)
    return render_template(
        "console/exports.html", form=form, today=today, status_filters=STATUS_FILTER_LABELS
    )


# --- orders -------------------------------------------------------------------------------------

ORDER_COLUMNS = [
    _l("Order number"),
    _l("WeChat transaction id"),
    _l("Created (Beijing time)"),
    _l("Paid (Beijing time)"),
    _l("Status"),
    _l("Items"),
    _l("Total (yuan)"),
    _l("Refunded (yuan)"),
    _l("Status code"),
    _l("Total (fen)"),
    _l("Refunded (fen)"),
    _l("Payer openid"),
    _l("Recipient"),
    _l("Recipient phone"),
    _l("Delivery address"),
]


@bp.get("/exports/orders.csv")
@login_required
def export_orders():
    """The orders the list's filters select (status, From/To, search): what the list shows."""
    form = OrderFilterForm(request.args)
    if not form.validate():
        return _refuse(form)
    filters = {
        k: v
        for k, v in request.args.items()
        if k in ("status", "channel", "store", "start", "end", "q") and v
    }
    audit("export.orders", None, filters)  # committed before the first row is read
    refunded = (
        db.select(func.coalesce(func.sum(Refund.amount), 0))
        .where(Refund.order_id == Order.id, Refund.status == Refund.SUCCESS)
        .correlate(Order)
        .scalar_subquery()
    )
    query = (
        order_query(form)
        .add_columns(refunded, User.openid)
        .join(User, User.id == Order.user_id)
        .options(selectinload(Order.items))
        .order_by(Order.id)
    )

    def rows():
        yield [str(name) for name in ORDER_COLUMNS]
        for order, refunded_fen, openid in stream(query):
            yield [
                order.out_trade_no,
                order.transaction_id or "",
                when(order.created_at),
                when(order.paid_at),
                labels.state(order.status),
                "; ".join(f"{item.name} × {item.quantity}" for item in order.items),
                money(order.total),
                money(refunded_fen),
                order.status,
                order.total,
                refunded_fen,
                openid,
                order.recipient_name or "",
                order.recipient_phone or "",
                _one_line(order),
            ]

    return csv_response(rows(), _filename("orders", form.start.data, form.end.data))


def _one_line(order):
    """The delivery address as a label prints it, or empty."""
    if not order.recipient_phone:
        return ""
    parts = (order.recipient_province, order.recipient_city, order.recipient_district)
    return "".join(part or "" for part in parts) + (order.recipient_detail or "")


def _refuse(form):
    """Bad dates: back to the Exports page, saying which, nothing exported or audited."""
    for field in form:
        for error in field.errors:
            flash(f"{field.label.text}: {error}", "error")
    return redirect(url_for("console.exports"))


def _filename(kind, start, end):
    span = "-".join(day.isoformat() for day in (start, end) if day) or "all"
    return f"{kind}-{span}.csv"


# --- refunds ------------------------------------------------------------------------------------

REFUND_COLUMNS = [
    _l("Refund number"),
    _l("Order number"),
    _l("WeChat refund id"),
    _l("Asked (Beijing time)"),
    _l("Refunded (Beijing time)"),
    _l("Status"),
    _l("Amount (yuan)"),
    _l("Reason"),
    _l("Asked by"),
    _l("Approved by"),
    _l("Status code"),
    _l("Amount (fen)"),
]


@bp.get("/exports/refunds.csv")
@login_required
def export_refunds():
    """Refunds asked for on the Beijing days from ``start`` to ``end`` (both included)."""
    form = ExportForm(request.args)
    if not form.validate():
        return _refuse(form)
    start, end = form.start.data, form.end.data
    audit("export.refunds", None, {"start": start.isoformat(), "end": end.isoformat()})
    query = (
        db.select(Refund, Order.out_trade_no)
        .join(Order, Order.id == Refund.order_id)
        .where(
            Refund.created_at >= beijing_midnight(start),
            Refund.created_at < beijing_midnight(end + timedelta(days=1)),
        )
        .order_by(Refund.id)
    )

    def rows():
        yield [str(name) for name in REFUND_COLUMNS]
        for refund, out_trade_no in stream(query):
            yield [
                refund.out_refund_no,
                out_trade_no,
                refund.refund_id or "",
                when(refund.created_at),
                when(refund.succeeded_at),
                labels.state(refund.status, "refund"),
                money(refund.amount),
                refund.reason or "",
                refund.requested_by,
                refund.approved_by,
                refund.status,
                refund.amount,
            ]

    return csv_response(rows(), _filename("refunds", start, end))


# --- a day's reconciliation ---------------------------------------------------------------------

RECONCILIATION_COLUMNS = [
    _l("Kind"),
    _l("Order number"),
    _l("Refund number"),
    _l("WeChat id"),
    _l("WeChat's time"),
    _l("WeChat (yuan)"),
    _l("WeChat fee (yuan)"),
    _l("Ours (yuan)"),
    _l("Our status"),
    _l("Difference"),
    _l("Difference resolved"),
    _l("WeChat (fen)"),
    _l("Ours (fen)"),
    _l("Our status code"),
]


@bp.get("/reconciliation/<int(max=2147483647):run_id>/export.csv")
@login_required
def export_reconciliation(run_id):
    """One line per payment and refund of the day, WeChat's bill beside our records: each
    line of the bill, then what we have that the bill lacks; each with its difference, if any.
    A day's bill is a day of orders: read whole (it is stored whole), written out streamed."""
    try:
        run = bills.get_run(run_id)
    except DomainError:  # RUN_NOT_FOUND
        abort(404)
    audit("export.reconciliation", f"day:{run.day.isoformat()}", {"day": run.day.isoformat()})
    differences = {}
    for diff in db.session.execute(
        db.select(BillDifference).where(BillDifference.run_id == run.id)
    ).scalars():
        differences[diff.out_refund_no or diff.out_trade_no] = diff
    day = run.day

    def difference(key):
        diff = differences.pop(key, None)
        if diff is None:
            return ["", ""]
        resolved = _("yes") if diff.resolved_at else _("no")
        return [labels.text(labels.DIFFERENCE_KINDS, diff.kind), resolved]

    def rows():
        yield [str(name) for name in RECONCILIATION_COLUMNS]
        seen_orders, seen_refunds = set(), set()
        bill_rows = bills.parse_bill(run.trade_bill.encode()).rows if run.trade_bill else []
        is_refund = [row.get("交易状态") == "REFUND" for row in bill_rows]
        orders = _by_key(
            Order.out_trade_no,
            [
                row.get("商户订单号", "")
                for row, r in zip(bill_rows, is_refund, strict=True)
                if not r
            ],
        )
        refunds = _by_key(
            Refund.out_refund_no,
            [row.get("商户退款单号", "") for row, r in zip(bill_rows, is_refund, strict=True) if r],
        )
        for row, refund in zip(bill_rows, is_refund, strict=True):
            number = row.get("商户订单号", "")
            refund_no = row.get("商户退款单号", "") if refund else ""
            amount = (
                row.get("申请退款金额") or row.get("退款金额")
                if refund
                else row.get("订单金额") or row.get("总金额") or row.get("应结订单金额")
            )
            (seen_refunds if refund else seen_orders).add(refund_no or number)
            yield _line(
                refund,
                number,
                refund_no,
                row.get("微信退款单号" if refund else "微信订单号", ""),
                row.get("交易时间", ""),
                bills.to_fen(amount) if amount else None,
                row.get("手续费", ""),  # exact, as the bill has it (five decimals)
                refunds.get(refund_no) if refund else orders.get(number),
                difference(refund_no or number),
            )
        start, end = bills.day_window(day)
        for order in db.session.execute(
            db.select(Order)
            .where(Order.paid_at >= start, Order.paid_at < end, bills.merchants_orders(run.mchid))
            .order_by(Order.paid_at)
            .execution_options(yield_per=BATCH)
        ).scalars():
            if order.out_trade_no not in seen_orders:
                yield _line(
                    False, order.out_trade_no, "", "", "", None, "", order,
                    difference(order.out_trade_no),
                )  # fmt: skip
        for refund in db.session.execute(
            db.select(Refund)
            .join(Order, Order.id == Refund.order_id)
            .where(
                Refund.succeeded_at >= start,
                Refund.succeeded_at < end,
                bills.merchants_orders(run.mchid),
            )
            .order_by(Refund.succeeded_at)
            .execution_options(yield_per=BATCH)
        ).scalars():
            if refund.out_refund_no not in seen_refunds:
                yield _line(
                    True, refund.order.out_trade_no, refund.out_refund_no, "", "", None, "",
                    refund, difference(refund.out_refund_no),
                )  # fmt: skip
        for diff in list(differences.values()):  # found by the run, in no list above
            yield _line(
                diff.out_refund_no is not None, diff.out_trade_no or "", diff.out_refund_no or "",
                "", "", None, "", None, difference(diff.out_refund_no or diff.out_trade_no),
            )  # fmt: skip

    return csv_response(rows(), f"reconciliation-{day.isoformat()}.csv")


def _line(refund, number, refund_no, wechat_id, wechat_time, wechat_fen, fee, ours, diff):
    kind = _("Refund") if refund else _("Payment")
    ours_fen = (ours.amount if refund else ours.total) if ours is not None else None
    status = ours.status if ours is not None else ""
    status_name = labels.state(status, "refund" if refund else "order") if status else ""
    return [
        kind,
        number,
        refund_no,
        wechat_id,
        wechat_time,
        money(wechat_fen),
        fee,
        money(ours_fen),
        status_name,
        *diff,
        "" if wechat_fen is None else wechat_fen,
        "" if ours_fen is None else ours_fen,
        status,
    ]


def _by_key(column, keys, chunk=500):
    """{key: row} of the rows whose ``column`` is one of ``keys``, a few queries in all."""
    keys, found = sorted(set(keys)), {}
    for start in range(0, len(keys), chunk):
        for row in db.session.execute(
            db.select(column.class_).where(column.in_(keys[start : start + chunk]))
        ).scalars():
            found[getattr(row, column.key)] = row
    return found

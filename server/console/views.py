"""The console's pages. Reading is for every staff member; changing money or the catalogue is
for admins. Each action calls a domain function (payments, refunds, catalogue, attention) and
then writes an audit entry; errors become a message on the page, never a half-done change."""

import json
from datetime import UTC, datetime, time, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import false, func, or_

from ..channels import OFFICIAL_ACCOUNT, all_channels, all_stores, payment_context, store_named
from ..domain import addresses, attention, bills, counter, images, payments, refunds, shipping
from ..domain.catalogue import save_product
from ..errors import DomainError
from ..extensions import db
from ..media import image_urls
from ..models import (
    AuditLog,
    BillDifference,
    Order,
    OrderItem,
    PaymentEvent,
    Product,
    ReconciliationRun,
    Refund,
    RefundRequest,
    Resolution,
    ShippingEvent,
    User,
)
from ..timeutil import CHINA, as_utc
from ..wechatpay.checks import is_ascii_number
from ..wechatpay.core.errors import ApiError, WeChatPayError
from . import audit, bp, i18n, labels, login_required, refused, role_required, takings
from .forms import (
    LOGISTICS,
    ActionForm,
    NoteForm,
    OrderFilterForm,
    ProductForm,
    ShippingForm,
    fen_to_yuan,
)
from .sessions import fresh_auth_required
from .store_access import STORE_PAGES, limit_orders, staff_store

PER_PAGE = 25
SYNC_OUTCOMES = {
    "paid": _l("Synced with WeChat: it says the order is paid, and now it is here too."),
    "closed": _l("Synced with WeChat: it says the order is closed; recorded."),
    "unchanged": _l("Synced with WeChat: nothing new; our records agree."),
    "duplicate": _l("Synced with WeChat: nothing new; our records agree."),
}


# -- formatting -----------------------------------------------------------------------------


@bp.app_template_filter("yuan")
def yuan_filter(fen):
    return labels.yuan(fen)


@bp.app_template_filter("masked_phone")
def masked_phone_filter(phone):
    """138****5678: lists show a phone so, never in full (the order's page does)."""
    return addresses.mask(phone)


@bp.app_template_filter("image_url")
def image_url_filter(key, size="thumb"):
    """The URL of a product image's size (relative: the console's own host), or None."""
    urls = image_urls(key, external=False)
    return urls[size] if urls else None


@bp.app_template_filter("yuan_text")
def yuan_text_filter(value):
    return labels.yuan_text(value)


@bp.app_template_global("label")
def label_global(code, table):
    """A code's human name with the code on hover: ``label(run.status, "run")``; the tables
    are server/console/labels.py's."""
    return labels.labelled(labels.text(LABEL_TABLES[table], code), code)


LABEL_TABLES = {
    **labels.STATES,
    "wechat_shipping": labels.WECHAT_SHIPPING_STATES,
    "source": labels.SOURCES,
    "role": labels.ROLES,
    "difference_kind": labels.DIFFERENCE_KINDS,
    "difference_help": labels.DIFFERENCE_HELP,
    "audit_action": labels.AUDIT_ACTIONS,
    "audit_key": labels.AUDIT_KEYS,
    "attention_kind": labels.ATTENTION_KINDS,
    "refund_refusal": labels.REFUND_REFUSALS,
    "channel": labels.CHANNELS,
    "trade_type": labels.TRADE_TYPES,
}


@bp.app_template_global("state_text")
def state_text(code, kind="order"):
    """A code's human name alone (where no markup fits: an <option>), from any table."""
    return labels.text(LABEL_TABLES[kind], code)


@bp.app_template_filter("event_label")
def event_label(event):
    """A payment or shipping event in words, its code on hover."""
    name = (
        labels.shipping_event(event)
        if isinstance(event, ShippingEvent)
        else labels.payment_event(event)
    )
    return labels.labelled(name, event.event_type)


@bp.app_template_filter("bill_side")
def bill_side_filter(value, kind):
    return labels.bill_side(value, kind)


@bp.app_template_filter("bill_text")
def bill_text_filter(value):
    return labels.bill_text(value)


@bp.app_template_filter("audit_value")
def audit_value_filter(value, key):
    return labels.audit_value(key, value)


@bp.app_template_filter("bjt")
def beijing_time(value, seconds=False):
    """A stored (UTC) time as Beijing time: what the shop and WeChat's bills use."""
    if value is None:
        return "—"
    return (
        as_utc(value)
        .astimezone(CHINA)
        .strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    )


@bp.app_template_filter("pretty_json")
def pretty_json(text):
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2, sort_keys=True)
    except (TypeError, ValueError):
        return text


@bp.context_processor
def _globals():
    language = str(get_locale())
    return {
        "action_form": ActionForm(),
        "url_endpoints": current_app.view_functions,
        "nav_counts": attention_counts(staff_store()) if current_user.is_authenticated else {},
        # A store's staff sees in the menu only the pages it may open.
        "store_pages": STORE_PAGES if staff_store() else None,
        "current_language": language,
        "html_lang": i18n.html_lang(language),
        "languages": i18n.LANGUAGES,
    }


def beijing_midnight(day):
    """The instant a Beijing calendar day starts, in UTC: SQLite compares stored UTC times as
    text, so a parameter must be UTC too."""
    return datetime.combine(day, time(0), tzinfo=CHINA).astimezone(UTC)


# -- overview -------------------------------------------------------------------------------
#
# The figures of every order, or of one store's (a service provider's, server/stores.py): a
# store-limited account always sees its store's; an admin picks a store (?store=tea) or sees all
# with a per-store breakdown.


def store_orders(store):
    """Conditions on Order that keep a store's orders (none: every order)."""
    return () if store is None else (Order.sub_mchid == store.sub_mchid,)


def of_store_named(query, name):
    """``query`` (over Order) kept to the orders of the store named (a list's filter, picked by
    an admin), whichever way they were paid; an unknown name: none. No name: unchanged."""
    if not name:
        return query
    store = store_named(name)
    return query.where(*store_orders(store)) if store else query.where(false())


def _of_store(store, order_id):
    """``order_id`` (a column naming an order) is one of the store's orders."""
    return order_id.in_(db.select(Order.id).where(*store_orders(store)))


def _count(query):
    return db.session.scalar(db.select(func.count()).select_from(query.subquery()))


def _waiting(store):
    """[(name, its order id column, query)]: what waits for a person about an order (refused
    messages, ABNORMAL refunds, refund requests), of ``store``'s orders only when given."""
    kinds = (
        ("refused_payments", PaymentEvent.order_id, attention.refused_payments()),
        ("abnormal_refunds", Refund.order_id, attention.abnormal_refunds()),
        (
            "refund_requests",
            RefundRequest.order_id,
            db.select(RefundRequest).where(RefundRequest.status == RefundRequest.PENDING),
        ),
    )
    return [
        (name, column, query if store is None else query.where(_of_store(store, column)))
        for name, column, query in kinds
    ]


def attention_counts(store=None):
    """What waits for a person; ``store``: about its orders and its reconciliation runs only."""
    counts = {name: _count(query) for name, _column, query in _waiting(store)}
    differences = db.select(BillDifference.id).where(BillDifference.resolved_at.is_(None))
    if store is not None:
        differences = differences.join(ReconciliationRun).where(
            ReconciliationRun.mchid == store.sub_mchid
        )
    counts["bill_differences"] = _count(differences)
    # the items on Needs attention (refund requests are decided on their own page)
    counts["total"] = (
        counts["refused_payments"] + counts["abnormal_refunds"] + counts["bill_differences"]
    )
    return counts


def _refunded_since(start, *where):
    count, amount = db.session.execute(
        db.select(func.count(), func.coalesce(func.sum(Refund.amount), 0))
        .join(Order, Order.id == Refund.order_id)
        .where(Refund.status == Refund.SUCCESS, Refund.succeeded_at >= start, *where)
    ).one()
    return {"count": count, "amount": amount}


def _paid_since(start, *where):
    count, amount = db.session.execute(
        db.select(func.count(), func.coalesce(func.sum(Order.total), 0)).where(
            Order.paid_at >= start, takings.KEPT, *where
        )
    ).one()
    return {"count": count, "amount": amount}


def _counter_and_online(day):
    net = {name: sums["paid"] - sums["refunded"] for name, sums in day.by_channel.items()}
    counter = net.get("counter", 0)
    return {"counter_today": counter, "online_today": sum(net.values()) - counter}


def _figures(store, day_start, week_start):
    """The overview's counts and sums, of every order or of ``store``'s."""
    where = store_orders(store)
    return {
        "today": _paid_since(day_start, *where),
        "week": _paid_since(week_start, *where),
        "refunds": {
            **_refunded_since(week_start, *where),
            "today": _refunded_since(day_start, *where)["amount"],
        },
        "awaiting": db.session.scalar(
            db.select(func.count()).where(Order.status == Order.NOTPAY, *where)
        ),
        "counts": attention_counts(store),
    }


def latest_run(store):
    """The store's latest reconciliation run (its part of the provider's bill) and how many of
    its differences are open, or (None, 0) when none has run."""
    run = db.session.scalar(
        db.select(ReconciliationRun)
        .where(ReconciliationRun.mchid == store.sub_mchid)
        .order_by(ReconciliationRun.day.desc())
        .limit(1)
    )
    if run is None:
        return None, 0
    return run, len(bills.run_differences(run.id, open_only=True))


# Why an order of a store waits for a person (the store's overview lists them).
WAITING_REASONS = {
    "refused_payments": _l("a message from WeChat was refused"),
    "abnormal_refunds": _l("a refund is ABNORMAL"),
    "refund_requests": _l("the customer asks for a refund"),
}


def orders_needing_attention(store, limit=20):
    """[(order, [reason])]: the store's orders something waits on, newest first."""
    reasons = {}
    for name, column, query in _waiting(store):
        for order_id in db.session.execute(query.with_only_columns(column)).scalars():
            waits = reasons.setdefault(order_id, [])
            if WAITING_REASONS[name] not in waits:  # two refused messages: said once
                waits.append(WAITING_REASONS[name])
    orders = db.session.execute(
        db.select(Order).where(Order.id.in_(reasons)).order_by(Order.id.desc()).limit(limit)
    ).scalars()
    return [(order, reasons[order.id]) for order in orders]


@bp.get("/")
@login_required
def overview():
    stores = all_stores()
    limited = staff_store()  # a store's staff: its store, whatever is asked
    store = limited or (store_named(request.args.get("store", "")) if stores else None)
    today = datetime.now(CHINA).date()
    monday = today - timedelta(days=today.weekday())
    day_start, week_start = beijing_midnight(today), beijing_midnight(monday)
    month = takings.takings(today - timedelta(days=takings.DAYS - 1), today, *store_orders(store))
    return render_template(
        "console/overview.html",
        **_figures(store, day_start, week_start),
        store=store,
        limited=limited is not None,
        stores=stores,
        # All stores (an admin's): each store's figures and its latest reconciliation.
        breakdown=[
            (each, _figures(each, day_start, week_start), *latest_run(each)) for each in stores
        ]
        if store is None
        else [],
        reconciliation=latest_run(store) if store is not None else None,
        needing=orders_needing_attention(store) if store is not None else [],
        today_takings=month[-1],
        # Counter takings apart from online ones (net of refunds), the channel being the
        # order's (server/channels.py).
        **_counter_and_online(month[-1]),
        month=month,
        month_net=sum(day.net for day in month),
        chart=takings.chart(month),
        today_date=today.isoformat(),
        week_date=monday.isoformat(),
        recent=db.session.execute(
            db.select(Order)
            .where(Order.paid_at.is_not(None), *store_orders(store))
            .order_by(Order.paid_at.desc())
            .limit(8)
        )
        .scalars()
        .all(),
    )


# -- orders ---------------------------------------------------------------------------------


# The orders list's status filter: what each choice shows. "paid" (money was taken: paid, or
# refunded since) is the default, so the list does not open on abandoned unpaid orders.
PAID_ANY, ALL = "paid", "all"
STATUS_FILTERS = {
    PAID_ANY: (Order.PAID, Order.REFUNDED),
    Order.NOTPAY: (Order.NOTPAY,),
    Order.PAID: (Order.PAID,),
    Order.REFUNDED: (Order.REFUNDED,),
    Order.CLOSED: (Order.CLOSED,),
    ALL: None,
}
STATUS_FILTER_LABELS = {
    PAID_ANY: _l("Paid (refunded ones too)"),
    Order.NOTPAY: _l("Unpaid"),
    Order.PAID: _l("Paid, not refunded in full"),
    Order.REFUNDED: _l("Refunded in full"),
    Order.CLOSED: _l("Closed"),
    ALL: _l("Any status"),
}


def order_query(form):
    """The orders the list's filters select (an OrderFilterForm; when it is not valid, only
    its default: paid orders). The CSV export uses the same query: it exports what the list
    shows. Dates are Beijing days of the order's creation."""
    valid = form.validate()
    query = limit_orders(db.select(Order))  # a store's staff: its orders only
    states = STATUS_FILTERS.get(form.status.data if valid else None, STATUS_FILTERS[PAID_ANY])
    if states is not None:
        query = query.where(Order.status.in_(states))
    if not valid:
        return query
    if form.channel.data:
        query = query.where(Order.channel == form.channel.data)
    query = of_store_named(query, form.store.data)
    if form.start.data:
        query = query.where(Order.created_at >= beijing_midnight(form.start.data))
    if form.end.data:
        query = query.where(Order.created_at < beijing_midnight(form.end.data + timedelta(days=1)))
    if term := (form.q.data or "").strip():
        query = query.where(or_(*search_conditions(term)))
    return query


def search_conditions(term):
    """What a search term may be: the order's number, WeChat's transaction id, the payer's
    openid, the order's own id (#42), part of a product's name, or the last 4 digits of the
    recipient's phone (what a customer reads out on the phone).

    Product names match as a substring, ignoring case where the database can: ILIKE on
    PostgreSQL folds every script's case; SQLite's lower() folds ASCII only, so there "latte"
    finds "Latte" but "É" does not find "é". Chinese has no case: 手冲 finds 手冲咖啡 on both.
    A name search scans order_items (no index serves '%term%'); a shop's order volume keeps it
    quick. Hook for issue 23's delivery address: when orders keep the recipient's phone, add
    ``Order.recipient_phone.endswith(term)`` for a term of exactly 4 digits here.
    """
    matches = [
        Order.out_trade_no == term,
        Order.transaction_id == term,
        Order.payer_openid == term,
        Order.id.in_(
            db.select(OrderItem.order_id).where(OrderItem.name.icontains(term, autoescape=True))
        ),
    ]
    if len(term) == 4 and is_ascii_number(term):  # a phone's last 4 digits
        matches.append(Order.recipient_phone.endswith(term, autoescape=True))
    digits = term.lstrip("#")  # the order's own id, "#42": ASCII digits only (not "²", "٣")
    if is_ascii_number(digits) and len(digits) <= 10:
        if (number := int(digits)) <= 2**31 - 1:
            matches.append(Order.id == number)
    return matches


@bp.get("/orders")
@login_required
def orders():
    form = OrderFilterForm(request.args)
    query = order_query(form)
    page = db.paginate(
        query.order_by(Order.id.desc()), per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "console/orders.html",
        form=form,
        page=page,
        args=args,
        status_filters=STATUS_FILTER_LABELS,
        status_filter=form.status.data if form.status.data in STATUS_FILTERS else PAID_ANY,
        channels=channel_names(),
        stores=[] if staff_store() else all_stores(),  # a store's staff sees its own anyway
    )


def channel_names():
    """The channels to filter by: the configured ones, and any older orders name."""
    used = db.session.execute(db.select(Order.channel).distinct()).scalars()
    return sorted({channel.name for channel in all_channels()} | set(used))


def _order_or_404(order_id):
    return db.session.get(Order, order_id) or abort(404)


def order_timeline(order):
    """Everything WeChat said about this order, oldest first."""
    return (
        db.session.execute(
            db.select(PaymentEvent)
            .where(PaymentEvent.order_id == order.id)
            .order_by(PaymentEvent.created_at, PaymentEvent.id)
        )
        .scalars()
        .all()
    )


@bp.get("/orders/<int(max=2147483647):order_id>")
@login_required
def order_detail(order_id):
    return render_order(_order_or_404(order_id))


def render_order(order, shipping_form=None):
    """The order page; ``shipping_form`` keeps what was typed into a refused shipping form."""
    user = db.session.get(User, order.user_id) if order.user_id is not None else None
    order_refunds = (
        db.session.execute(db.select(Refund).where(Refund.order_id == order.id).order_by(Refund.id))
        .scalars()
        .all()
    )
    return render_template(
        "console/order.html",
        order=order,
        user=user,
        events=order_timeline(order),
        refunds=order_refunds,
        refunded=order.refunded,
        refundable=refunds.refundable(order),
        counter_payment=counter.for_order(order.id) if order.trade_type == "MICROPAY" else None,
        **shipping_block(order, shipping_form),
    )


def paid_in_the_mini_program(order):
    """WeChat's shipping info service is for mini-program payments only (JSAPI in the mini
    program); the web shop's orders (Native, H5, the official account's JSAPI) are shipped
    without it."""
    return order.trade_type == "JSAPI" and order.channel != OFFICIAL_ACCOUNT


def shipping_block(order, form=None):
    """What the order page shows of shipping: our shipment, WeChat's view, the events."""
    if not paid_in_the_mini_program(order):
        return {"shipping_not_wechats": True}
    shipment = order.shipment
    events = (
        db.session.execute(
            db.select(ShippingEvent)
            .where(ShippingEvent.order_id == order.id)
            .order_by(ShippingEvent.created_at, ShippingEvent.id)
        )
        .scalars()
        .all()
    )
    if form is None:
        # The recipient's phone, masked as WeChat takes it (SF Express needs a phone to track).
        form = ShippingForm(
            formdata=None,
            item_desc=order.description,
            receiver_contact=addresses.mask(order.recipient_phone) or None,
        )
        if shipment is not None:  # a change starts from what WeChat has
            parcels = json.loads(shipment.packages)
            form.logistics.data = next(
                k for k, v in shipping.LOGISTICS_TYPES.items() if v == shipment.logistics_type
            )
            form.item_desc.data = parcels[0]["item_desc"]
            while len(form.parcels) < len(parcels):
                form.parcels.append_entry()
            for row, parcel in zip(form.parcels, parcels, strict=False):
                row.form.tracking_no.data = parcel.get("tracking_no")
                row.form.express_company.data = parcel.get("express_company")
            form.all_delivered.data = shipment.is_all_delivered
    return {
        "shipment": shipment,
        "shipping_events": events,
        "shipping_form": form,
        "parcels": json.loads(shipment.packages) if shipment else [],
        "wechat_states": labels.WECHAT_SHIPPING_STATES,
        "logistics_choices": LOGISTICS,
        "max_uploads": shipping.MAX_UPLOADS,
        "logistics_names": {v: LOGISTICS[k] for k, v in shipping.LOGISTICS_TYPES.items()},
    }


def _wechat_call(order, what, call):
    """Run ``call(gateway)`` with the order's gateway (its merchant, API version and appid);
    a flashed message instead of an error page."""
    try:
        return call(payment_context(order).gateway)
    except ApiError as exc:
        flash(
            _(
                "Could not %(what)s: WeChat Pay answered %(code)s (%(message)s).",
                what=what,
                code=exc.code,
                message=exc.message,
            ),
            "error",
        )
    except WeChatPayError:
        flash(
            _(
                "Could not %(what)s: WeChat Pay did not answer. Nothing changed here; "
                "try again shortly.",
                what=what,
            ),
            "error",
        )
    except payments.PaymentMismatch as exc:
        flash(
            _(
                "WeChat's answer does not match this order (%(reason)s); it is kept under "
                "Needs attention.",
                reason=labels.text(labels.REFUSALS, exc.code),
            ),
            "error",
        )
    except DomainError as exc:  # payments are not configured on this deployment
        refused(exc, _("Could not %(what)s", what=what))
    db.session.rollback()
    return None


@bp.post("/orders/<int(max=2147483647):order_id>/sync")
@login_required
def sync_order(order_id):
    order = _order_or_404(order_id)
    outcome = _wechat_call(
        order,
        _("sync with WeChat"),
        lambda gw: payments.apply_query(order, gw),
    )
    if outcome is not None:
        known = SYNC_OUTCOMES.get(outcome)
        flash(
            str(known) if known else _("Synced with WeChat: %(outcome)s.", outcome=outcome),
            "success",
        )
    audit(
        "order.sync",
        f"order:{order.id}",
        {"out_trade_no": order.out_trade_no, "outcome": outcome or "failed"},
    )
    return redirect(url_for("console.order_detail", order_id=order.id))


@bp.route("/orders/<int(max=2147483647):order_id>/close", methods=["GET", "POST"])
@role_required("admin")
def close_order(order_id):
    order = _order_or_404(order_id)
    form = ActionForm()
    try:
        payments.check_closable(order)
    except DomainError as exc:
        refused(exc, _("Not closed"))
        return redirect(url_for("console.order_detail", order_id=order.id))
    if order.status != Order.NOTPAY:
        flash(
            _(
                "Only an unpaid order can be closed; this one is %(state)s.",
                state=labels.state(order.status),
            ),
            "error",
        )
        return redirect(url_for("console.order_detail", order_id=order.id))
    closable_at = as_utc(order.created_at) + payments.CLOSE_NOT_BEFORE
    if closable_at > datetime.now(UTC):
        flash(
            _(
                "WeChat Pay does not close an order in its first 5 minutes: try again after "
                "%(when)s.",
                when=beijing_time(closable_at, seconds=True),
            ),
            "error",
        )
        return redirect(url_for("console.order_detail", order_id=order.id))
    if not form.validate_on_submit():  # GET: the confirmation page
        return render_template("console/close.html", order=order, form=form)
    outcome = _wechat_call(
        order,
        _("close the order"),
        lambda gw: payments.close_order(order, gw),
    )
    if outcome == "closed":
        flash(_("The order is closed, with WeChat first: it can no longer be paid."), "success")
    elif outcome is not None:
        flash(
            _(
                "Not closed: WeChat says the order is %(state)s.",
                state=labels.text(labels.OUTCOMES, outcome),
            ),
            "error",
        )
    audit(
        "order.close",
        f"order:{order.id}",
        {"out_trade_no": order.out_trade_no, "outcome": outcome or "failed"},
    )
    return redirect(url_for("console.order_detail", order_id=order.id))


# -- needs attention --------------------------------------------------------------------------


@bp.get("/attention")
@login_required
def attention_page():
    refused = (
        db.session.execute(attention.refused_payments().order_by(PaymentEvent.id.desc()))
        .scalars()
        .all()
    )
    abnormal = (
        db.session.execute(attention.abnormal_refunds().order_by(Refund.id.desc())).scalars().all()
    )
    resolved = (
        db.session.execute(db.select(Resolution).order_by(Resolution.id.desc()).limit(20))
        .scalars()
        .all()
    )
    return render_template(
        "console/attention.html",
        refused=refused,
        abnormal=abnormal,
        resolved=resolved,
        differences=bills.open_differences(),
        form=NoteForm(),
    )


@bp.post("/attention/<kind>/<int(max=2147483647):target_id>/resolve")
@role_required("admin")
def resolve_attention(kind, target_id):
    if kind not in attention.KINDS:
        abort(404)
    form = NoteForm()
    if not form.validate_on_submit():
        flash(_("Write a note saying what was done."), "error")
        return redirect(url_for("console.attention_page"))
    try:
        attention.resolve(kind, target_id, current_user.email, form.note.data.strip())
    except DomainError as exc:  # someone resolved it already
        refused(exc)
        return redirect(url_for("console.attention_page"))
    audit("attention.resolve", f"{kind}:{target_id}", {"note": form.note.data.strip()})
    flash(_("Resolved."), "success")
    return redirect(url_for("console.attention_page"))


# -- catalogue ------------------------------------------------------------------------------


@bp.get("/catalogue")
@login_required
def catalogue():
    products = (
        db.session.execute(db.select(Product).order_by(Product.active.desc(), Product.id))
        .scalars()
        .all()
    )
    return render_template("console/catalogue.html", products=products)


@bp.route("/catalogue/new", methods=["GET", "POST"])
@bp.route("/catalogue/<int(max=2147483647):product_id>", methods=["GET", "POST"])
@role_required("admin")
@fresh_auth_required
def edit_product(product_id=None):
    product = db.session.get(Product, product_id) or abort(404) if product_id else None
    form = ProductForm(obj=product)
    if request.method == "GET" and product is not None:
        form.price.data = fen_to_yuan(product.price)
    if form.validate_on_submit() and (image := _uploaded_image(form)) is not False:
        before = _product_fields(product) if product else None
        product = save_product(
            product,
            name=form.name.data,
            description=form.description.data,
            price=form.price.fen,
            active=form.active.data,
            ships=form.ships.data,
            image=image,
        )
        audit(
            "product.create" if before is None else "product.update",
            f"product:{product.id}",
            {"before": before, "after": _product_fields(product)},
        )
        flash(_("Saved %(name)s.", name=product.name), "success")
        return redirect(url_for("console.catalogue"))
    status = 400 if form.errors else 200
    return render_template("console/product.html", form=form, product=product), status


def _uploaded_image(form):
    """The key of the picture uploaded with the product form (None: none uploaded), or False
    with the reason on the form when it is refused."""
    upload = form.image.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    data = upload.stream.read(images.MAX_BYTES + 1)
    try:
        return images.store(data, current_app.config["MEDIA_DIR"])
    except DomainError as exc:
        form.image.errors = [*form.image.errors, IMAGE_REFUSALS.get(exc.extra.get("reason"))]
        return False


IMAGE_REFUSALS = {
    "empty": _l("The file is empty."),
    "too_large": _l("The picture is over 5 MB: make it smaller."),
    "not_an_image": _l("This file is not a picture: upload a JPEG, PNG or WebP."),
    "unsupported_format": _l("Only JPEG, PNG and WebP pictures are taken."),
    "too_many_pixels": _l("The picture has too many pixels: make it smaller."),
}


def _product_fields(product):
    return {
        "name": product.name,
        "description": product.description,
        "price": product.price,
        "active": product.active,
        "ships": product.ships,
        "image": product.image,
    }


# -- audit log ------------------------------------------------------------------------------


@bp.get("/audit")
@login_required
def audit_log():
    query = db.select(AuditLog).order_by(AuditLog.id.desc())
    if actor := request.args.get("actor", "").strip()[:255]:
        query = query.where(AuditLog.actor == actor.lower())
    if action := request.args.get("action", "").strip()[:64]:
        query = query.where(AuditLog.action == action)
    page = db.paginate(query, per_page=50, max_per_page=50, error_out=False)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("console/audit.html", page=page, args=args)

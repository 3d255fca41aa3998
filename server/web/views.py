"""The web shop's pages: products, cart, checkout, an order with its live status, my orders."""

import hashlib
import io
from datetime import timedelta
from urllib.parse import quote

import segno
from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import Markup

from ..channels import OFFICIAL_ACCOUNT, checkout_context, payment_context, store_of
from ..console import i18n
from ..console.labels import yuan
from ..domain import addresses, checkout, refunds
from ..errors import DomainError, status_for
from ..extensions import csrf, db
from ..models import Order, Product
from ..ratelimits import shop_reads, shop_writes
from ..timeutil import as_utc, utcnow
from . import bp, wechat

CART, ORDERS, PENDING = "shop_cart", "shop_orders", "shop_pending"
MAX_REMEMBERED = 20  # orders "my orders" keeps for one browser
NATIVE, H5 = "native", "h5"
# A phone's browser (products doc §3: H5 outside WeChat); anything else is a desktop (Native).
MOBILE = ("Mobile", "Android", "iPhone", "iPad", "HarmonyOS")


@bp.before_request
def _guard():
    if request.method == "POST":
        csrf.protect()


@bp.app_template_filter("yuan")
def _yuan(fen):
    return yuan(fen)


@bp.context_processor
def _page():
    language = i18n.select_language()
    return {
        "html_lang": i18n.html_lang(language),
        "current_language": language,
        "languages": i18n.LANGUAGES,
        "cart_count": sum(_cart().values()),
    }


@bp.errorhandler(DomainError)
def _refused(exc):
    db.session.rollback()
    return render_template("web/error.html", message=_describe(exc)), _status(exc)


@bp.errorhandler(CSRFError)
def _csrf_error(exc):
    return render_template(
        "web/error.html", message=_("The page had expired. Nothing was changed; try again.")
    ), 400


@bp.errorhandler(429)
def _too_many(exc):
    """Over the shop's per-address limits (server/ratelimits.py): nothing was done."""
    db.session.rollback()
    return render_template(
        "web/error.html", message=_("Too many requests; wait a moment and try again.")
    ), 429


# The delivery address form's fields (server/domain/addresses.py) and their labels.
ADDRESS_FIELDS = (
    ("name", _l("Recipient"), "name"),
    ("phone", _l("Mobile phone"), "tel"),
    ("province", _l("Province"), "address-level1"),
    ("city", _l("City"), "address-level2"),
    ("district", _l("District"), "address-level3"),
    ("detail", _l("Street and number"), "street-address"),
)

# --- pages ------------------------------------------------------------------------------------


@bp.get("/")
def products():
    found = db.session.execute(
        db.select(Product).where(Product.active.is_(True)).order_by(Product.id)
    ).scalars()
    return render_template("web/products.html", products=list(found))


@bp.post("/cart")
def add_to_cart():
    product_id = _int(request.form.get("product_id"), 1, 2**31 - 1)
    quantity = _int(request.form.get("quantity") or "1", 1, checkout.MAX_QUANTITY)
    product = db.session.get(Product, product_id)
    if product is None or not product.active:  # a hidden product is no longer sold
        raise DomainError("PRODUCT_NOT_FOUND", "no such product")
    cart = _cart()
    cart[str(product_id)] = min(cart.get(str(product_id), 0) + quantity, checkout.MAX_QUANTITY)
    if len(cart) > checkout.MAX_LINES:
        raise DomainError("INVALID_REQUEST", "too many products in one order")
    session[CART] = cart
    flash(_("Added to your cart."))
    return redirect(url_for("web.cart"))


@bp.get("/cart")
def cart():
    return _cart_page()


def _cart_page(address=None, problem=None):
    """The cart, with the delivery address form when something in it ships (the same fields
    and checks as the mini program's, server/domain/addresses.py)."""
    lines = _cart_lines()
    return render_template(
        "web/cart.html",
        lines=lines,
        total=sum(line["amount"] for line in lines),
        on_phone=way_to_pay(request.user_agent.string) == H5,
        ships=any(line["product"].ships for line in lines),
        address=address or {},
        address_fields=ADDRESS_FIELDS,
        problem=problem,
    ), (400 if problem else 200)


@bp.post("/cart/remove")
def remove_from_cart():
    cart = _cart()
    cart.pop(str(_int(request.form.get("product_id"), 1, 2**31 - 1)), None)
    session[CART] = cart
    return redirect(url_for("web.cart"))


@bp.post("/checkout")
@shop_writes
def place():
    """Create the order of the cart on the way to pay this browser uses, and show it. The same
    cart checked out again while its order can still be paid gets that order back (a second
    click, a reload): one order, and WeChat is sent the same parameters again."""
    lines = sorted((int(pid), qty) for pid, qty in _cart().items())
    if not lines:
        return redirect(url_for("web.cart"))
    channel = way_to_pay(request.user_agent.string, request.form.get("qr") == "1")
    address = None
    if any(line["product"].ships for line in _cart_lines()):
        entered = {name: request.form.get(f"address_{name}", "") for name in addresses.FIELDS}
        try:
            address = addresses.parse(entered)
        except DomainError as exc:  # the form again, as typed, with what is wrong
            return _cart_page(entered, _describe(exc))
    user = None
    if channel == OFFICIAL_ACCOUNT:
        user = wechat.signed_in_user()
        if user is None:  # the session ended since the page was authorised: start again
            return redirect(url_for("web.cart"))
    signature = _signature(lines, channel, address)
    pending = session.get(PENDING) or {}
    order = _pending_order(pending.get(signature))
    if order is not None:
        return redirect(url_for("web.order", order_id=order.id))
    try:
        order_id = checkout.create(
            user,
            lines,
            key=None,
            client_ip=request.remote_addr,
            context=checkout_context(channel, store_of(lines)),
            address=address,
        ).order.id
    except DomainError as exc:
        # Created, but WeChat did not take it yet: the order page says so and places it again.
        order_id = exc.extra.get("order_id")
        if not isinstance(order_id, int):
            raise
        db.session.rollback()
    session[PENDING] = {signature: order_id}  # only the latest cart's order is reused
    session[ORDERS] = ([order_id] + _remembered())[:MAX_REMEMBERED]
    return redirect(url_for("web.order", order_id=order_id))


@bp.get("/orders/<int:order_id>")
@shop_writes
def order(order_id):
    order = _own_order(order_id)
    qr = code_url = refusal = None
    if _payable(order) and order.trade_type == "NATIVE":
        try:
            code_url = checkout.pay(order, payment_context(order))["code_url"]
            qr = qr_svg(code_url)
        except DomainError as exc:
            db.session.rollback()
            refusal = _describe(exc)
    _forget_the_paid_cart(order)
    return render_template(
        "web/order.html",
        order=order,
        status=status_of(order),
        qr=qr,
        code_url=code_url,
        scan_url=_simulator_scan_url(code_url),
        refusal=refusal,
        returned=request.args.get("returned") == "1",
        refund_form=_refund_form(order),
        **wechat.page_extras(order),
    )


@bp.post("/orders/<int:order_id>/refund-request")
def request_refund(order_id):
    """The user asks the shop for a refund of a paid order, as in the mini program
    (``refunds.request_refund``: one pending request, within REFUND_REQUEST_WINDOW_DAYS); the
    shop decides in the console. A guest's order (Native, H5: no sign-in) is asked for by the
    browser that placed it (its signed session lists it: ``_own_order``); an order placed
    inside WeChat by its signed-in user. A second request while one waits (a double click)
    changes nothing and says so."""
    order = _own_order(order_id)
    allowed, user = _refund_asker(order)
    config = current_app.config
    if not allowed or config["REFUND_REQUESTS_ENABLED"] != "true":
        abort(404)
    reason = (request.form.get("reason") or "").strip()[:200] or _("No reason given")
    window = timedelta(days=int(config["REFUND_REQUEST_WINDOW_DAYS"]))
    try:
        refunds.request_refund(order, user, reason, window=window)
        flash(_("Your refund request was sent to the shop."))
    except DomainError as exc:
        if exc.code != "REQUEST_ALREADY_PENDING":
            raise
        flash(_describe(exc))
    return redirect(url_for("web.order", order_id=order.id), 303)


@bp.post("/orders/<int:order_id>/jsapi")
@shop_writes
def pay_jsapi(order_id):
    """``getBrandWCPayRequest``'s signed parameters for an order placed inside WeChat, by the
    user it was placed for (the openid WeChat Pay will check)."""
    order = _own_order(order_id)
    user = wechat.signed_in_user()
    if order.trade_type != "JSAPI" or user is None or order.user_id != user.id:
        abort(404)
    params = wechat.pay_params(order, checkout.pay(order, payment_context(order)))
    return jsonify({"pay_params": params})


@bp.post("/orders/<int:order_id>/h5")
@shop_writes
def pay_h5(order_id):
    """Send the phone's browser to WeChat's H5 cashier: a fresh h5_url (it lives 5 minutes),
    with ``redirect_url`` back to the order page, marked as a return. WeChat checks that the
    payer's address is the order's payer_client_ip (the address checkout saw, through the
    trusted proxies: server/proxy.py) and that this page's domain is the H5 domain."""
    order = _own_order(order_id)
    if order.trade_type != "MWEB":
        abort(404)
    h5_url = checkout.pay(order, payment_context(order))["h5_url"]
    back = url_for("web.order", order_id=order.id, returned=1, _external=True)
    return redirect(f"{h5_url}&redirect_url={quote(back, safe='')}", 303)


@bp.get("/orders/<int:order_id>/status")
@shop_reads
def order_status(order_id):
    """The order's state for the page's poll (every 2 s) and its "check again" button: what
    the backend knows, converged with WeChat at most every ORDER_QUERY_INTERVAL_SECONDS when
    still unpaid."""
    order = _own_order(order_id)
    if order.status == Order.NOTPAY and order.prepay_id and not _expired(order):
        interval = int(current_app.config["ORDER_QUERY_INTERVAL_SECONDS"])
        checkout.refresh(order, payment_context(order), interval_seconds=interval)
    _forget_the_paid_cart(order)
    return jsonify(status_of(order))


@bp.get("/orders")
def orders():
    ids = _remembered()
    found = (
        db.session.execute(db.select(Order).where(Order.id.in_(ids)).order_by(Order.id.desc()))
        .scalars()
        .all()
        if ids
        else []
    )
    return render_template("web/orders.html", orders=found, status_of=status_of)


@bp.post("/language")
def set_language():
    chosen = request.form.get("language")
    if chosen in i18n.LANGUAGES:
        session[i18n.SESSION_KEY] = chosen
    target = request.form.get("next") or ""
    return redirect(target if target.startswith(bp.url_prefix + "/") else url_for("web.products"))


# --- helpers ----------------------------------------------------------------------------------


def way_to_pay(user_agent, qr=False):
    """The channel for this browser: the official account's JSAPI inside WeChat (when it is
    configured), H5 in a phone's browser, Native (a QR code) on a desktop or when the phone's
    user asks for the code (to scan it with another phone)."""
    if qr:
        return NATIVE
    if "MicroMessenger" in (user_agent or ""):
        # Inside WeChat, H5 is refused (请在微信外打开订单): JSAPI, else the QR code.
        return OFFICIAL_ACCOUNT if current_app.config.get("WECHAT_OA_APPID") else NATIVE
    return H5 if any(word in (user_agent or "") for word in MOBILE) else NATIVE


def status_of(order):
    """What the page shows: paid, expired (unpaid past its time_expire), closed or waiting."""
    seconds_left = max(0, int((as_utc(order.time_expire) - utcnow()).total_seconds()))
    if order.status in (Order.PAID, Order.REFUNDED):
        state = "paid"
    elif order.status == Order.CLOSED:
        state = "closed"
    elif seconds_left == 0:
        state = "expired"
    else:
        state = "waiting"
    return {"id": order.id, "status": order.status, "state": state, "seconds_left": seconds_left}


def qr_svg(data):
    """The QR code of ``data`` as inline SVG (segno: error correction M, a 4-module border)."""
    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(
        out, kind="svg", scale=6, border=4, xmldecl=False, svgns=True, title="WeChat Pay"
    )
    return Markup(out.getvalue().decode())


def _simulator_scan_url(code_url):
    """In development, a link to the simulator's "scan with WeChat" page; None in production
    and with the real WeChat Pay."""
    base = current_app.config.get("WECHATPAY_API_BASE") or ""
    if not code_url or current_app.config["APP_ENV"] == "production" or "weixin.qq.com" in base:
        return None
    return f"{base}/sandbox/scan?code_url={quote(code_url, safe='')}"


def _refund_asker(order):
    """``(allowed, user)``: who asks for a refund of this browser's order. A guest's order (no
    user) is asked for as a guest; an order placed inside WeChat only by its signed-in user."""
    if order.user_id is None:
        return True, None
    user = wechat.signed_in_user()
    return user is not None and order.user_id == user.id, user


def _refund_form(order):
    """Whether the page carries the refund request form: for a paid order, and for one that
    may become paid while the page is open (shown when its poll sees the payment)."""
    return (
        _refund_asker(order)[0]
        and order.status in (Order.PAID, Order.NOTPAY)
        and current_app.config["REFUND_REQUESTS_ENABLED"] == "true"
        and not any(r.status == "PENDING" for r in order.refund_requests)
    )


def _payable(order):
    return order.status == Order.NOTPAY and not _expired(order)


def _expired(order):
    return as_utc(order.time_expire) <= utcnow()


def _own_order(order_id):
    """An order this browser placed; any other looks exactly like a missing one."""
    order = db.session.get(Order, order_id) if order_id in _remembered() else None
    if order is None:
        abort(404)
    return order


def _pending_order(order_id):
    order = db.session.get(Order, order_id) if order_id in _remembered() else None
    return order if order is not None and _payable(order) else None


def _remembered():
    ids = session.get(ORDERS)
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def _forget_the_paid_cart(order):
    """Once the cart's order is paid, the cart is empty again: what was bought is not offered
    for a second checkout (a new order) by the cart page."""
    pending = session.get(PENDING) or {}
    if order.status in (Order.PAID, Order.REFUNDED) and order.id in pending.values():
        session.pop(PENDING, None)
        session.pop(CART, None)


def _signature(lines, channel, address=None):
    """The checkout's identity: the same cart to the same address on the same way to pay."""
    return hashlib.sha256(repr((channel, lines, address)).encode()).hexdigest()[:16]


def _cart():
    """The cart's ``{product id: quantity}`` of products still sold: one hidden since it was
    added is dropped (the cart page, which shows active products only, could not remove it,
    and checkout would refuse it), so checkout places what the page shows."""
    return {str(p.id): q for p, q in _cart_products()}


def _cart_products():
    cart = session.get(CART)
    if not isinstance(cart, dict):
        return []
    cart = {k: v for k, v in cart.items() if k.isdigit() and isinstance(v, int) and v > 0}
    if not cart:
        return []
    found = {
        p.id: p
        for p in db.session.execute(
            db.select(Product).where(
                Product.id.in_([int(k) for k in cart]), Product.active.is_(True)
            )
        ).scalars()
    }
    return [(found[int(k)], q) for k, q in cart.items() if int(k) in found]


def _cart_lines():
    return [{"product": p, "quantity": q, "amount": p.price * q} for p, q in _cart_products()]


def _int(value, low, high):
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise DomainError("INVALID_REQUEST", "a number is out of range")
    return number


def _describe(exc):
    texts = {
        "ORDER_NOT_PAYABLE": _("This order can no longer be paid."),
        "PRODUCT_NOT_FOUND": _("This product is no longer sold."),
        "CART_SPANS_STORES": _(
            "These products are sold by different stores: pay for each store's separately."
        ),
        "PAYMENTS_NOT_CONFIGURED": _("Payments are not set up on this shop yet."),
        "INVALID_REQUEST": _("That request was not understood. Nothing was changed."),
        "REFUND_WINDOW_PASSED": _("Refunds can no longer be requested for this order."),
        "REQUEST_ALREADY_PENDING": _("A refund request for this order is already with the shop."),
        "ORDER_NOT_REFUNDABLE": _("This order cannot be refunded."),
    }
    return texts.get(exc.code, _("WeChat Pay did not answer as expected. Try again shortly."))


def _status(exc):
    return status_for(exc.code)

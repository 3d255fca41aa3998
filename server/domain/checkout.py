"""Checkout: price from the catalogue, create the order, place it with WeChat Pay, and the
parameters the client pays with. No Flask: the mini program's API calls these functions, and
any other way to pay (an H5 page, a Native QR code, a counter) calls the same ones.

    create(user, lines, key=..., client_ip=..., context=...)   a new order (or the one of this
                                                                Idempotency-Key), priced here
    pay(order, context)                                         the payment parameters, placing
                                                                the order (again) when needed
    refresh(order, context, interval_seconds=...)               an unpaid order, converged
                                                                with WeChat

What checkout needs from WeChat Pay it gets as one explicit argument, a ``PaymentContext``:
the gateway, the channel and the ids orders are placed for, the notify URL and the order
timeout. ``server/channels.py`` builds it: for a new order from a channel
(``checkout_context(name)``), for an existing one from what the order recorded
(``payment_context(order)``). A new way to pay is a new channel; checkout does not change.
"""

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import DomainError, wechatpay_error
from ..extensions import db
from ..models import Order, OrderItem, Product
from ..timeutil import CHINA, as_utc, utcnow
from ..wechatpay.core.errors import ApiError, WeChatPayError
from ..wechatpay.core.types import OrderRequest
from . import addresses, payments

log = logging.getLogger(__name__)

MAX_LINES = 20  # products in one order
MAX_QUANTITY = 99  # of one product
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


@dataclass(frozen=True)
class PaymentContext:
    """One way to pay, as checkout and everything after it need it: the gateway and the ids.

    For a new order, a channel's (``channels.checkout_context(name)``): the order records its
    ids. For an existing order, the order's own (``channels.payment_context(order)``): the
    gateway of its merchant and API version, bound to its appid.
    """

    gateway: object  # the WeChat Pay gateway (v3 or v2); None when payments are not configured
    quick_gateway: object  # the same with a short budget: for queries while a user waits
    appid: str
    mchid: str
    notify_url: str
    order_timeout_minutes: int
    channel: str = "miniprogram"
    trade_type: str = "JSAPI"
    api_version: str = "v3"
    sub_mchid: str | None = None
    sub_appid: str | None = None
    refund_notify_url: str = ""
    # The shop's language (SHOP_LANGUAGE): the descriptions WeChat shows on the user's bill.
    shop_language: str = "zh_Hans"


@dataclass(frozen=True)
class Checkout:
    order: Order
    pay_params: dict
    created: bool  # False: the order of an Idempotency-Key sent before


def idempotency_key(value):
    """The client's Idempotency-Key (None when it sent none); INVALID_REQUEST for a bad one."""
    if value is not None and not IDEMPOTENCY_KEY.fullmatch(value):
        raise DomainError(
            "INVALID_REQUEST", "Idempotency-Key must be 8 to 64 letters, digits, '-' or '_'"
        )
    return value


def merge_lines(lines):
    """``[(product_id, quantity)]`` with each product once; at most ``MAX_QUANTITY`` of one."""
    quantities = {}
    for product_id, quantity in lines:
        quantities[product_id] = quantities.get(product_id, 0) + quantity
    if any(q > MAX_QUANTITY for q in quantities.values()):
        raise DomainError("INVALID_REQUEST", f"at most {MAX_QUANTITY} of one product")
    return list(quantities.items())


def create(user, lines, *, key, client_ip, context, address=None):
    """Create ``user``'s order of ``lines`` (product id, quantity), priced from the catalogue,
    and its payment parameters. Anything price-like the client sent is never read.

    ``address`` (an ``addresses.Address``, parsed by the caller) is where the goods go: required
    (ADDRESS_REQUIRED) when a product ships, and kept on the order as a copy; an order of
    nothing that ships keeps none (no personal data the shop does not need).

    The same ``key`` (Idempotency-Key) sent again, even concurrently, gets the same order back
    (``created`` False) if it was for the same lines, IDEMPOTENCY_KEY_REUSED otherwise. The
    order is committed before WeChat is asked: if WeChat fails, ``pay`` places it again.
    """
    lines = merge_lines(lines)
    if key and (existing := _order_for_key(user, key)) is not None:
        return _replay(existing, lines, user, context, address)
    products = _active_products(lines)
    items = _items(products, lines)
    ships = any(products[pid].ships for pid, _ in lines)
    if ships and address is None:
        raise DomainError(
            "ADDRESS_REQUIRED", "a product in this order ships: a delivery address is required"
        )
    order = Order(
        user_id=user.id if user else None,  # a web guest has no account
        out_trade_no=new_out_trade_no(),
        channel=context.channel,
        trade_type=context.trade_type,
        appid=context.appid,
        mchid=context.mchid,
        sub_mchid=context.sub_mchid,
        sub_appid=context.sub_appid,
        api_version=context.api_version,
        # Known for JSAPI; a QR code's payer is whoever scans it (told by the notification).
        payer_openid=user.openid if user and context.trade_type == "JSAPI" else None,
        description=description(items, context.shop_language),
        total=sum(i.amount for i in items),
        time_expire=payments.order_expiry(context.order_timeout_minutes),
        client_ip=client_ip,
        idempotency_key=key,
        items=items,
        ships=ships,
        **(addresses.columns(address) if ships else {}),
    )
    # A new order has no refunds, refund requests or shipment: known, so not loaded.
    for name, empty in (("refunds", []), ("refund_requests", []), ("shipment", None)):
        set_committed_value(order, name, empty)
    db.session.add(order)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = _order_for_key(user, key) if key else None
        if existing is None:
            raise
        return _replay(existing, lines, user, context, address)  # a concurrent one won
    return Checkout(order, pay(order, context), created=True)


def priced(lines):
    """The order's items, priced from the active catalogue (fen)."""
    return _items(_active_products(lines), lines)


def _active_products(lines):
    """The products of ``lines`` by id; PRODUCT_NOT_FOUND for a missing or hidden one."""
    products = {
        p.id: p
        for p in db.session.execute(
            db.select(Product).where(
                Product.id.in_([pid for pid, _ in lines]), Product.active.is_(True)
            )
        ).scalars()
    }
    missing = [pid for pid, _ in lines if pid not in products]
    if missing:
        raise DomainError("PRODUCT_NOT_FOUND", f"no product with id {missing[0]}")
    return products


def _items(products, lines):
    return [
        OrderItem(
            product_id=pid,
            name=products[pid].name,
            unit_price=products[pid].price,
            quantity=quantity,
            amount=products[pid].price * quantity,
        )
        for pid, quantity in lines
    ]


def new_out_trade_no():
    """26 characters: Beijing time to the second, then 48 random bits."""
    return datetime.now(CHINA).strftime("%Y%m%d%H%M%S") + secrets.token_hex(6)


def _order_for_key(user, key):
    return db.session.execute(
        db.select(Order).filter_by(user_id=user.id, idempotency_key=key)
    ).scalar_one_or_none()


def _replay(order, lines, user, context, address=None):
    """A checkout sent again: the same order, with fresh payment parameters. Other items,
    another address for goods that ship, or another way to pay (the key of an APP checkout sent
    to the mini program's endpoint) is another checkout: IDEMPOTENCY_KEY_REUSED."""
    if order.channel != context.channel:
        raise DomainError(
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for a checkout on another way to pay",
            order_id=order.id,
        )
    other_address = order.ships and (
        address is None
        or any(getattr(order, k) != v for k, v in addresses.columns(address).items())
    )
    if other_address or sorted((i.product_id, i.quantity) for i in order.items) != sorted(lines):
        raise DomainError(
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for a different order",
            order_id=order.id,
        )
    return Checkout(order, pay(order, context), created=False)


# WeChat Pay's limit on an order's description (v3 ``description``, v2 ``body``): 127
# characters, counted as characters, not bytes; and only characters of 1 to 3 bytes in UTF-8
# (docs/protocol.md, C1 and E). A product name may hold an emoji (4 bytes): it is dropped.
MAX_DESCRIPTION = 127


def description(items, language="zh_Hans"):
    """What the user's bill says the order was, in the shop's language: the first product's
    name, and how many things in all when there are more ("手冲咖啡等3件", "手冲咖啡 and 2 more
    items"), within WeChat's 127 characters. The count is kept whole; the name is shortened."""
    count = sum(item.quantity for item in items)
    name = "".join(c for c in items[0].name if ord(c) <= 0xFFFF).strip() or "商品"
    if count == 1:
        suffix = ""
    elif language == "en":
        suffix = f" and {count - 1} more item{'s' if count > 2 else ''}"
    else:
        suffix = f"等{count}件"
    room = MAX_DESCRIPTION - len(suffix)
    if len(name) > room:
        name = name[: room - 1] + "…"
    return name + suffix


def pay(order, context):
    """Signed payment parameters for the order's payer (wx.requestPayment's), placing the
    order with WeChat when it has no fresh prepay_id. ORDER_NOT_PAYABLE when it is paid,
    closed or expired; WeChat's failures as ``wechatpay_error``."""
    gateway = _gateway(context)
    if order.status != Order.NOTPAY:
        raise _not_payable(order, f"the order is {order.status}")
    if as_utc(order.time_expire) <= utcnow():
        raise _not_payable(order, "the order has expired")
    if order.trade_type in PLACE_BY_URL:
        return _pay_by_url(order, context, gateway)
    place, sign = PREPAY_CALLS[order.trade_type]
    if payments.prepay_is_fresh(order):
        return getattr(gateway, sign)(order.prepay_id)
    prepay_id = _place(order, context, getattr(gateway, place))
    _record_placed(order, prepay_id)
    return getattr(gateway, sign)(prepay_id)


def _place(order, context, call):
    """``call``'s answer to placing ``order`` with WeChat; an order WeChat says is paid or
    closed is brought up to date and refused (ORDER_NOT_PAYABLE), other failures are
    ``wechatpay_error``."""
    # End the read transaction (POST .../pay read the order) so that no database connection
    # is held while WeChat answers (100-300 ms): threads waiting on WeChat may far outnumber
    # the pool's connections. After create() nothing is open and this costs nothing.
    db.session.commit()
    try:
        return call(_order_request(order, context))
    except ApiError as exc:
        if exc.code in ("ORDERPAID", "ORDER_CLOSED", "ORDERCLOSED"):
            refresh(order, context, interval_seconds=0)
            raise _not_payable(order, f"the order is {order.status}") from None
        raise wechatpay_error(exc, order_id=order.id) from None
    except WeChatPayError as exc:
        raise wechatpay_error(exc, order_id=order.id) from None


def _record_placed(order, prepay_id):
    """Keep what WeChat placed; ORDER_NOT_PAYABLE when the order was paid or closed (a
    notification) while WeChat was answering."""
    recorded = payments.record_prepay(order.id, prepay_id)
    db.session.commit()
    if not recorded:
        db.session.refresh(order)
        raise _not_payable(order, f"the order is {order.status}")


# trade type -> (the gateway's call placing it, the one signing the client's parameters):
# orders the client pays with a prepay_id (wx.requestPayment / getBrandWCPayRequest, an app).
PREPAY_CALLS = {
    "JSAPI": ("place_order", "pay_params"),
    "APP": ("place_app_order", "app_pay_params"),
}


# trade type -> (the gateway's call, the answer's key): orders paid at a URL WeChat gives.
PLACE_BY_URL = {
    "NATIVE": ("place_native_order", "code_url"),
    "MWEB": ("place_h5_order", "h5_url"),
}


def _pay_by_url(order, context, gateway):
    """Native: ``{"code_url": ...}`` to show as a QR code; H5: ``{"h5_url": ...}`` to send the
    browser to. Placed every time it is asked for: the same parameters again are the same
    order at WeChat (until its time_expire), with a code_url valid 2 hours from then or an
    h5_url valid 5 minutes, so what the payer gets is never stale."""
    call, key = PLACE_BY_URL[order.trade_type]
    url = _place(order, context, getattr(gateway, call))
    # WeChat gives these no prepay_id to keep (H5's is inside the h5_url); the URL's start
    # stands for it, so the jobs know the order was placed (they query and close placed
    # orders only).
    _record_placed(order, _placed_mark(url))
    return {key: url}


def _placed_mark(url):
    prepay_id = parse_qs(urlsplit(url).query).get("prepay_id")
    return (prepay_id[0] if prepay_id else url)[:64]


def cancel(order, context):
    """The user cancels their unpaid order: closed with WeChat first, then here, by the same
    function as the close-expired job (``payments.close_order``), so it cannot be paid after.
    Returns the order, CLOSED. Commits.

    ORDER_NOT_CANCELLABLE (``reason``): it is not unpaid (``not_unpaid``; paid at the last
    moment included), or it is too soon: WeChat closes an order only 5 minutes after it was
    placed (``too_soon``, with ``cancellable_at``; it also closes by itself at ``time_expire``).
    WeChat's failures as ``wechatpay_error``: the order stays open.
    """
    if order.status != Order.NOTPAY:
        raise _not_cancellable(order, "not_unpaid", f"the order is {order.status}")
    if order.trade_type == "MICROPAY":  # settled by its own loop (payments.check_closable)
        raise _not_cancellable(order, "counter", "a payment-code order is not cancelled")
    closable_at = as_utc(order.created_at) + payments.CLOSE_NOT_BEFORE
    if order.prepay_id is not None and closable_at > utcnow():
        raise _not_cancellable(
            order,
            "too_soon",
            "WeChat Pay closes an order only 5 minutes after it was placed",
            cancellable_at=closable_at.isoformat(),
        )
    gateway = _gateway(context)
    try:
        payments.close_order(order, gateway)
    except WeChatPayError as exc:
        db.session.rollback()
        raise wechatpay_error(exc, order_id=order.id) from None
    db.session.refresh(order)
    if order.status != Order.CLOSED:
        raise _not_cancellable(order, "not_unpaid", f"the order is {order.status}")
    return order


def _not_cancellable(order, reason, message, **extra):
    return DomainError(
        "ORDER_NOT_CANCELLABLE",
        message,
        order_id=order.id,
        order_status=order.status,
        reason=reason,
        **extra,
    )


def _not_payable(order, message):
    return DomainError("ORDER_NOT_PAYABLE", message, order_id=order.id, order_status=order.status)


def _order_request(order, context):
    # Identical on every call for one order, so WeChat treats a re-placement as the same order.
    return OrderRequest(
        out_trade_no=order.out_trade_no,
        description=order.description,
        total=order.total,
        openid=order.payer_openid,
        notify_url=context.notify_url,
        time_expire=as_utc(order.time_expire),
        client_ip=order.client_ip,
        product_id=str(order.items[0].product_id) if order.items else None,
    )


def refresh(order, context, *, interval_seconds):
    """Converge an unpaid order with WeChat (a late notification), at most once per interval,
    with the quick gateway: reading an order must not fail, nor wait long, because WeChat
    does. The order is re-read."""
    if not payments.claim_query(order.id, interval_seconds):
        return  # queried a moment ago; the order as just read stands
    _gateway(context)
    try:
        payments.apply_query(order, context.quick_gateway)
    except (WeChatPayError, payments.PaymentMismatch) as exc:
        # The notification still comes.
        log.warning("query of %s failed: %s", order.out_trade_no, getattr(exc, "summary", exc))
        db.session.rollback()
    db.session.refresh(order)


def _gateway(context):
    if context.gateway is None:
        raise DomainError("PAYMENTS_NOT_CONFIGURED", "payments are not configured")
    return context.gateway

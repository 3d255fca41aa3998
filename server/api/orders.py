"""The mini program's orders API: create, list, show, and (re)issue payment parameters."""

import re
import secrets
from datetime import datetime

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from .. import payments
from ..clients import gateway, quick_gateway
from ..errors import HttpError, wechatpay_http_error
from ..extensions import db
from ..models import Order, OrderItem, Product, as_utc, utcnow
from ..ratelimits import order_reads, order_writes
from ..wechatpay.core.errors import ApiError, WeChatPayError
from ..wechatpay.core.types import CHINA, OrderRequest
from .auth import login_required
from .order_json import order_json
from .validation import int_field, json_object

bp = Blueprint("orders", __name__)

MAX_LINES = 20
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_QUANTITY = 99


@bp.post("/api/orders")
@login_required
@order_writes
def create_order():
    key = _idempotency_key()
    lines = _order_lines(json_object())
    if key and (existing := _order_for_key(key)) is not None:
        return _replay(existing, lines)
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
        raise HttpError(404, "PRODUCT_NOT_FOUND", f"no product with id {missing[0]}")

    # Priced here from the catalogue; anything price-like in the request was never read.
    items = [
        OrderItem(
            product_id=pid,
            name=products[pid].name,
            unit_price=products[pid].price,
            quantity=quantity,
            amount=products[pid].price * quantity,
        )
        for pid, quantity in lines
    ]
    order = Order(
        user_id=g.user.id,
        out_trade_no=new_out_trade_no(),
        description=_description(items),
        total=sum(i.amount for i in items),
        time_expire=payments.order_expiry(int(current_app.config["ORDER_TIMEOUT_MINUTES"])),
        client_ip=request.remote_addr,
        idempotency_key=key,
        items=items,
    )
    # A new order has no refunds, refund requests or shipment: known, so not loaded.
    for name, empty in (("refunds", []), ("refund_requests", []), ("shipment", None)):
        set_committed_value(order, name, empty)
    db.session.add(order)
    try:
        db.session.commit()  # saved first: if WeChat fails below, POST .../pay retries it
    except IntegrityError:
        db.session.rollback()
        existing = _order_for_key(key) if key else None
        if existing is None:
            raise
        return _replay(existing, lines)  # a concurrent request with the same key won

    pay_params = _pay_params(order)
    return jsonify({"order": order_json(order), "pay_params": pay_params}), 201


@bp.get("/api/orders")
@login_required
@order_reads
def list_orders():
    orders = db.session.execute(
        db.select(Order)
        .filter_by(user_id=g.user.id)
        .order_by(Order.id.desc())
        .limit(100)
        .options(
            selectinload(Order.items),
            selectinload(Order.refunds),
            selectinload(Order.refund_requests),
        )  # 3 queries, not 3 per order
    ).scalars()
    return jsonify({"orders": [order_json(order) for order in orders]})


@bp.get("/api/orders/<id:order_id>")
@login_required
@order_reads
def show_order(order_id):
    order = _own_order(order_id)
    if order.status == Order.NOTPAY and order.prepay_id:
        _refresh_from_wechat(order)
    return jsonify({"order": order_json(order)})


@bp.post("/api/orders/<id:order_id>/pay")
@login_required
@order_writes
def pay_order(order_id):
    order = _own_order(order_id)
    pay_params = _pay_params(order)  # first: it may update the order
    return jsonify({"order": order_json(order), "pay_params": pay_params})


def new_out_trade_no():
    """26 characters: Beijing time to the second, then 48 random bits."""
    return datetime.now(CHINA).strftime("%Y%m%d%H%M%S") + secrets.token_hex(6)


def _order_lines(body):
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_LINES:
        raise HttpError(
            400, "INVALID_REQUEST", f"'items' must be a list of 1 to {MAX_LINES} products"
        )
    quantities = {}
    for item in items:
        if not isinstance(item, dict):
            raise HttpError(400, "INVALID_REQUEST", "each item must be an object")
        product_id = int_field(item, "product_id", 1, 2**31 - 1)
        quantity = int_field(item, "quantity", 1, MAX_QUANTITY)
        quantities[product_id] = quantities.get(product_id, 0) + quantity
    if any(q > MAX_QUANTITY for q in quantities.values()):
        raise HttpError(400, "INVALID_REQUEST", f"at most {MAX_QUANTITY} of one product")
    return list(quantities.items())


def _idempotency_key():
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise HttpError(
            400, "INVALID_REQUEST", "Idempotency-Key must be 8 to 64 letters, digits, '-' or '_'"
        )
    return key


def _order_for_key(key):
    return db.session.execute(
        db.select(Order).filter_by(user_id=g.user.id, idempotency_key=key)
    ).scalar_one_or_none()


def _replay(order, lines):
    """The answer for a checkout sent again: the same order, with fresh pay_params."""
    if sorted((item.product_id, item.quantity) for item in order.items) != sorted(lines):
        raise HttpError(
            409,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for a different order",
            order_id=order.id,
        )
    pay_params = _pay_params(order)
    return jsonify({"order": order_json(order), "pay_params": pay_params}), 200


def _description(items):
    text = items[0].name if len(items) == 1 else f"{items[0].name} and {len(items) - 1} more"
    return text[:127]


def _own_order(order_id):
    order = db.session.execute(
        db.select(Order)
        .filter_by(id=order_id, user_id=g.user.id)
        .options(selectinload(Order.items))
    ).scalar_one_or_none()
    if order is None:  # someone else's order looks exactly like a missing one
        raise HttpError(404, "ORDER_NOT_FOUND", "no such order")
    return order


def _pay_params(order):
    """Signed wx.requestPayment parameters, placing the order with WeChat when needed."""
    gw = gateway()
    if order.status != Order.NOTPAY:
        raise HttpError(
            409,
            "ORDER_NOT_PAYABLE",
            f"the order is {order.status}",
            order_id=order.id,
            order_status=order.status,
        )
    if as_utc(order.time_expire) <= utcnow():
        raise HttpError(
            409,
            "ORDER_NOT_PAYABLE",
            "the order has expired",
            order_id=order.id,
            order_status=order.status,
        )
    if not payments.prepay_is_fresh(order):
        try:
            prepay_id = gw.place_order(_order_request(order))
        except ApiError as exc:
            if exc.code in ("ORDERPAID", "ORDER_CLOSED", "ORDERCLOSED"):
                _refresh_from_wechat(order, force=True)
                raise HttpError(
                    409,
                    "ORDER_NOT_PAYABLE",
                    f"the order is {order.status}",
                    order_id=order.id,
                    order_status=order.status,
                ) from None
            raise wechatpay_http_error(exc, order_id=order.id) from None
        except WeChatPayError as exc:
            raise wechatpay_http_error(exc, order_id=order.id) from None
        recorded = payments.record_prepay(order.id, prepay_id)
        db.session.commit()
        if not recorded:  # paid or closed (a notification) while WeChat was answering
            db.session.refresh(order)
            raise HttpError(
                409,
                "ORDER_NOT_PAYABLE",
                f"the order is {order.status}",
                order_id=order.id,
                order_status=order.status,
            )
        return gw.pay_params(prepay_id)
    return gw.pay_params(order.prepay_id)


def _order_request(order):
    # Identical on every call for one order, so WeChat treats a re-placement as the same order.
    return OrderRequest(
        out_trade_no=order.out_trade_no,
        description=order.description,
        total=order.total,
        openid=g.user.openid,
        notify_url=current_app.config["WECHATPAY_NOTIFY_URL"],
        time_expire=as_utc(order.time_expire),
        client_ip=order.client_ip,
    )


def _refresh_from_wechat(order, force=False):
    """Converge an unpaid order with WeChat (a late notification), at most once per interval."""
    interval = 0 if force else int(current_app.config["ORDER_QUERY_INTERVAL_SECONDS"])
    if not payments.claim_query(order.id, interval):
        return  # queried a moment ago; the order as just read stands
    try:
        payments.apply_query(
            order,
            quick_gateway(),
            current_app.config["WECHAT_APPID"],
            current_app.config["WECHATPAY_MCHID"],
        )
    except (WeChatPayError, payments.PaymentMismatch) as exc:
        # Reading an order must not fail because WeChat did; the notification still comes.
        current_app.logger.warning(
            "query of %s failed: %s", order.out_trade_no, getattr(exc, "summary", exc)
        )
        db.session.rollback()
    db.session.refresh(order)

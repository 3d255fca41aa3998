"""The mini program's orders API: create, list, show, (re)issue payment parameters, change
the delivery address, cancel.

A thin adapter over ``server.domain.checkout``: it reads the request (the bearer token's user,
the body's items, the Idempotency-Key header, the client's address), calls checkout with the
mini program's channel (``channels.checkout_context``) for a new order and the order's own
(``channels.payment_context``) after that, and answers JSON.
"""

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy.orm import selectinload

from ..channels import DEFAULT, checkout_context, payment_context, store_of
from ..domain import addresses, checkout, customers
from ..errors import DomainError
from ..extensions import db
from ..models import Order
from ..ratelimits import order_reads, order_writes
from .auth import login_required
from .order_json import order_json
from .validation import int_field, json_object

bp = Blueprint("orders", __name__)


@bp.post("/api/orders")
@login_required
@order_writes
def create_order():
    key = checkout.idempotency_key(request.headers.get("Idempotency-Key"))
    body = json_object()
    lines = _order_lines(body)
    address = addresses.parse(body["address"]) if body.get("address") is not None else None
    store = store_of(lines)  # a provider's: a store's order, on its channel (its sub_mchid)
    done = checkout.create(
        g.user,
        lines,
        key=key,
        client_ip=request.remote_addr,
        context=checkout_context(store.channel if store else DEFAULT),
        address=address,
    )
    body = {"order": order_json(done.order), "pay_params": done.pay_params}
    return jsonify(body), 201 if done.created else 200


@bp.get("/api/orders")
@login_required
@order_reads
def list_orders():
    orders = db.session.execute(
        db.select(Order)
        .where(Order.user_id.in_(customers.user_ids(g.user.customer_id)))
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
        interval = int(current_app.config["ORDER_QUERY_INTERVAL_SECONDS"])
        checkout.refresh(order, payment_context(order), interval_seconds=interval)
    return jsonify({"order": order_json(order)})


@bp.post("/api/orders/<id:order_id>/pay")
@login_required
@order_writes
def pay_order(order_id):
    order = _own_order(order_id)
    # The customer's order from another app, or one paid another way (an APP order): pay it
    # where it was placed.
    if order.user_id != g.user.id or order.trade_type != "JSAPI":
        raise DomainError(
            "ORDER_NOT_PAYABLE",
            "this order is paid where it was placed",
            order_id=order.id,
            order_status=order.status,
        )
    pay_params = checkout.pay(order, payment_context(order))  # first: it may update it
    return jsonify({"order": order_json(order), "pay_params": pay_params})


@bp.put("/api/orders/<id:order_id>/address")
@login_required
@order_writes
def change_address(order_id):
    """Where the goods go, changed: while the order is unpaid, or paid and not shipped."""
    order = _own_order(order_id)
    address = addresses.parse(json_object().get("address"))
    addresses.change(order, address)
    return jsonify({"order": order_json(order)})


@bp.post("/api/orders/<id:order_id>/cancel")
@login_required
@order_writes
def cancel_order(order_id):
    """The user cancels an unpaid order: closed with WeChat first, then here."""
    order = _own_order(order_id)
    checkout.cancel(order, payment_context(order))
    return jsonify({"order": order_json(order)})


def _order_lines(body):
    """``[(product_id, quantity)]`` from the body's ``items``; checkout merges and prices them."""
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= checkout.MAX_LINES:
        raise DomainError(
            "INVALID_REQUEST", f"'items' must be a list of 1 to {checkout.MAX_LINES} products"
        )
    lines = []
    for item in items:
        if not isinstance(item, dict):
            raise DomainError("INVALID_REQUEST", "each item must be an object")
        product_id = int_field(item, "product_id", 1, 2**31 - 1)
        quantity = int_field(item, "quantity", 1, checkout.MAX_QUANTITY)
        lines.append((product_id, quantity))
    return lines


def _own_order(order_id):
    """One of the customer's orders: the user's own, or one the same person placed in another
    app (``customers``)."""
    order = db.session.execute(
        db.select(Order).filter_by(id=order_id).options(selectinload(Order.items))
    ).scalar_one_or_none()
    if order is None or (
        order.user_id != g.user.id and not customers.same_customer(order.user_id, g.user)
    ):  # someone else's order looks exactly like a missing one
        raise DomainError("ORDER_NOT_FOUND", "no such order")
    return order

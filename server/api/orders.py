"""The mini program's orders API: create, list, show, and (re)issue payment parameters.

A thin adapter over ``server.domain.checkout``: it reads the request (the bearer token's user,
the body's items, the Idempotency-Key header, the client's address), calls checkout with the
WeChat Pay context of the settings (``clients.checkout_context``), and answers JSON.
"""

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy.orm import selectinload

from ..clients import checkout_context
from ..domain import checkout
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
    lines = _order_lines(json_object())
    done = checkout.create(
        g.user, lines, key=key, client_ip=request.remote_addr, context=checkout_context()
    )
    body = {"order": order_json(done.order), "pay_params": done.pay_params}
    return jsonify(body), 201 if done.created else 200


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
        interval = int(current_app.config["ORDER_QUERY_INTERVAL_SECONDS"])
        checkout.refresh(order, checkout_context(), interval_seconds=interval)
    return jsonify({"order": order_json(order)})


@bp.post("/api/orders/<id:order_id>/pay")
@login_required
@order_writes
def pay_order(order_id):
    order = _own_order(order_id)
    pay_params = checkout.pay(order, g.user.openid, checkout_context())  # first: it may update it
    return jsonify({"order": order_json(order), "pay_params": pay_params})


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
    order = db.session.execute(
        db.select(Order)
        .filter_by(id=order_id, user_id=g.user.id)
        .options(selectinload(Order.items))
    ).scalar_one_or_none()
    if order is None:  # someone else's order looks exactly like a missing one
        raise DomainError("ORDER_NOT_FOUND", "no such order")
    return order

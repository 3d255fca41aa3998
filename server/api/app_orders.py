"""APP payments for shops that also have a native app: ``POST /api/app/orders`` places an order
on the ``app`` channel (trade type APP, the mobile app's appid) and answers the signed
parameters the app passes to WeChat's SDK (docs/web-shop.md has an example).

The same as ``POST /api/orders`` otherwise: the bearer token's user, priced from the
catalogue, the Idempotency-Key, the rate limits; the order is then read at
``GET /api/orders/<id>`` like any other. In a service provider's deployment the order is the
store's that sells the products (its sub_mchid on the app channel: docs/provider.md).
"""

from flask import Blueprint, g, jsonify, request

from ..channels import checkout_context, store_of
from ..domain import addresses, checkout
from ..ratelimits import order_writes
from .auth import login_required
from .order_json import order_json
from .orders import _order_lines
from .validation import json_object

bp = Blueprint("app_orders", __name__)


@bp.post("/api/app/orders")
@login_required
@order_writes
def create_app_order():
    key = checkout.idempotency_key(request.headers.get("Idempotency-Key"))
    body = json_object()
    lines = _order_lines(body)
    # Goods that ship need the delivery address, as in POST /api/orders.
    address = addresses.parse(body["address"]) if body.get("address") is not None else None
    done = checkout.create(
        g.user,
        lines,
        key=key,
        client_ip=request.remote_addr,
        context=checkout_context("app", store_of(lines)),  # a provider's: a store's order
        address=address,
    )
    body = {"order": order_json(done.order), "app_params": done.pay_params}
    return jsonify(body), 201 if done.created else 200

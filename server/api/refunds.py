"""The mini program's refund requests: the user asks, the shop approves or rejects.

    POST /api/orders/<id>/refund-request  {"reason": "..."}  -> 201 {"refund_request", "order"}

``GET /api/orders/<id>`` shows the order's requests and refunds (``Order.to_json``).
"""

from datetime import timedelta

from flask import Blueprint, current_app, g, jsonify

from ..domain import refunds
from ..errors import DomainError
from .auth import login_required
from .order_json import order_json
from .orders import _own_order
from .validation import json_object, string_field

bp = Blueprint("refund_requests", __name__)


@bp.post("/api/orders/<id:order_id>/refund-request")
@login_required
def request_refund(order_id):
    reason = string_field(json_object(), "reason", max_length=200)
    order = _own_order(order_id)
    config = current_app.config
    if config["REFUND_REQUESTS_ENABLED"] != "true":
        raise DomainError(
            "REFUNDS_DISABLED", "this shop takes refund requests by other means", order_id=order_id
        )
    request = refunds.request_refund(
        order, g.user, reason, window=timedelta(days=int(config["REFUND_REQUEST_WINDOW_DAYS"]))
    )
    current_app.logger.info("refund request %s for order %s", request.id, order_id)
    order = _own_order(order_id)
    return jsonify({"refund_request": request.to_json(), "order": order_json(order)}), 201

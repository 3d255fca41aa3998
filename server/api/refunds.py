"""The mini program's refund requests: the user asks, the shop approves or rejects.

    POST /api/orders/<id>/refund-request  {"reason": "..."}  -> 201 {"refund_request", "order"}

``GET /api/orders/<id>`` shows the order's requests and refunds (``Order.to_json``).
"""

from datetime import timedelta

from flask import Blueprint, current_app, g, jsonify

from ..domain import refunds
from ..errors import HttpError
from .auth import login_required
from .order_json import order_json
from .orders import _own_order
from .validation import json_object, string_field

bp = Blueprint("refund_requests", __name__)

STATUS = {
    "REFUNDS_DISABLED": 403,
    "REQUEST_ALREADY_PENDING": 409,
    "REFUND_WINDOW_PASSED": 409,
    "ORDER_NOT_REFUNDABLE": 409,
}


@bp.post("/api/orders/<id:order_id>/refund-request")
@login_required
def request_refund(order_id):
    reason = string_field(json_object(), "reason", max_length=200)
    order = _own_order(order_id)
    config = current_app.config
    try:
        if config["REFUND_REQUESTS_ENABLED"] != "true":
            raise refunds.RefundError(
                "REFUNDS_DISABLED", "this shop takes refund requests by other means"
            )
        request = refunds.request_refund(
            order, g.user, reason, window=timedelta(days=int(config["REFUND_REQUEST_WINDOW_DAYS"]))
        )
    except refunds.RefundError as exc:
        raise HttpError(
            STATUS.get(exc.code, 409), exc.code, exc.message, order_id=order_id
        ) from None
    current_app.logger.info("refund request %s for order %s", request.id, order_id)
    order = _own_order(order_id)
    return jsonify({"refund_request": request.to_json(), "order": order_json(order)}), 201

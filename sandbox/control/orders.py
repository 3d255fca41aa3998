"""Orders and refunds as the simulator holds them: list, show, expire (the order, or an H5
order's h5_url alone), notify again, settle a refund (see ``sandbox.control``).

Each names an order by its out_trade_no, or a refund by its out_refund_no, in the path; with
``?mchid=`` the merchant's, which is needed only when several merchants use that number (409
MCHID_REQUIRED otherwise).
"""

import time

from flask import Blueprint, current_app, request

from ..pay import codepay, refunds
from ..pay.v3.refunds import refund_view
from ..state import PAID_STATES
from ..wire import control_body, control_error, json_response

bp = Blueprint("control_orders", __name__, url_prefix="/sandbox")


def _state():
    return current_app.extensions["sandbox"]


def _mchid():
    return request.args.get("mchid") or None


def _public(order):
    shown = {key: value for key, value in order.items() if key != "request"}
    shown["refunds"] = [refund_view(refund) for refund in refunds.order_refunds(_state(), order)]
    return shown


@bp.get("/orders")
def list_orders():
    with _state().lock:
        return json_response({"orders": [_public(o) for o in _state().orders.values()]})


@bp.get("/orders/<out_trade_no>")
def show_order(out_trade_no):
    with _state().lock:
        order = _state().find_order(out_trade_no, _mchid())
        if order is None:
            return control_error(404, "ORDER_NOT_FOUND", "no such out_trade_no")
        codepay.advance(_state(), order)
        return json_response({"order": _public(order)})


@bp.post("/orders/<out_trade_no>/expire")
def expire_order(out_trade_no):
    with _state().lock:
        order = _state().find_order(out_trade_no, _mchid())
        if order is None:
            return control_error(404, "ORDER_NOT_FOUND", "no such out_trade_no")
        order["expire_at"] = time.time() - 1
        return json_response({"order": _public(order)})


@bp.post("/orders/<out_trade_no>/h5-url/expire")
def expire_h5_url(out_trade_no):
    """The H5 order's h5_url (mweb_url) runs out now, before its 5 minutes: WeChat's cashier
    shows 支付请求已失效 for it. The order stays payable: placing it again gives a new h5_url."""
    with _state().lock:
        order = _state().find_order(out_trade_no, _mchid())
        if order is None:
            return control_error(404, "ORDER_NOT_FOUND", "no such out_trade_no")
        if "h5_url_expires_at" not in order:
            return control_error(400, "NOT_H5", "this order was not given an h5_url")
        order["h5_url_expires_at"] = time.time() - 1
        return json_response({"order": _public(order)})


@bp.post("/notify/<out_trade_no>")
def resend_notification(out_trade_no):
    state = _state()
    with state.lock:
        order = state.find_order(out_trade_no, _mchid())
    if order is None:
        return control_error(404, "ORDER_NOT_FOUND", "no such out_trade_no")
    if order["trade_state"] not in PAID_STATES:
        return control_error(400, "ORDER_NOT_PAID", "only a paid order has a notification")
    if not order.get("notify_url"):  # a payment-code order: WeChat sends none
        return control_error(400, "NO_NOTIFICATION", "a payment-code order has no notification")
    return json_response({"out_trade_no": out_trade_no, "event_id": state.notify(order)})


@bp.post("/refunds/<out_refund_no>")
def settle_refund(out_refund_no):
    """Finish a refund left PROCESSING by a refund fault: {"status": SUCCESS|ABNORMAL|CLOSED}."""
    status = control_body().get("status")
    if not isinstance(status, str) or status not in refunds.FINAL_STATUSES:
        return control_error(400, "INVALID_REQUEST", "status must be SUCCESS, ABNORMAL or CLOSED")
    state = _state()
    with state.lock:
        refund = state.find_refund(out_refund_no, _mchid())
    if refund is None:
        return control_error(404, "REFUND_NOT_FOUND", "no such out_refund_no")
    try:
        refunds.settle_refund(state, refund, status)
    except ValueError as exc:
        return control_error(400, "REFUND_NOT_PROCESSING", str(exc))
    return json_response({"refund": refund_view(refund)})

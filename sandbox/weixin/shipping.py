"""The mini program's shipping-info service (小程序发货信息管理服务) and its pushes.

WeChat's side, as its pages and the behaviour developers report describe it:
- ``POST /wxa/sec/order/upload_shipping_info``: a paid order (order key: transaction_id, or
  mchid + out_trade_no), its payer's openid, 1 parcel (unified) or 2-15 (split, express only),
  item_desc 1-120 characters, tracking number and carrier for express, a contact for SF Express,
  an upload_time later than the last. A paid order takes a first upload and ONE change
  (10060003 after that); a refunded or received order 10060004; an unknown one 10060001.
- ``POST /wxa/sec/order/get_order`` (order_state 1 awaiting shipment .. 4 completed, 5
  refunded) and ``POST /wxa/sec/order/is_trade_managed``.
- Pushes ``trade_manage_order_settlement`` (``sandbox.weixin.push``) when an order is shipped
  and when it settles.

Every call needs an access token (``sandbox.weixin.tokens``). Controls, in
``sandbox.control.weixin``: ``POST /sandbox/shipping/confirm`` (the user confirms receipt; the
order settles), ``POST /sandbox/shipping/managed`` ``{"managed"}``.
"""

import time
from datetime import datetime

from flask import Blueprint, current_app, request

from ..wire import json_response
from . import push
from .errors import wechat_error
from .tokens import token_error

MAX_PARCELS = 15
SETTLEMENT_DELAY = 10 * 24 * 3600  # estimated settlement: 10 days after shipping

bp = Blueprint("weixin_shipping", __name__)


def _state():
    return current_app.extensions["sandbox"]


def store(state):
    """The shipping service's part of the simulator's state (cleared by /sandbox/reset)."""
    return state.weixin.setdefault("shipping", {"managed": True, "shipping": {}})


@bp.post("/wxa/sec/order/is_trade_managed")
def is_trade_managed():
    if (error := token_error()) is not None:
        return error
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("appid") != _state().config.appid:
        return wechat_error(40013, "invalid appid")
    with _state().lock:
        managed = store(_state())["managed"]
    return json_response({"errcode": 0, "errmsg": "ok", "is_trade_managed": managed})


@bp.post("/wxa/sec/order/upload_shipping_info")
def upload_shipping_info():
    if (error := token_error()) is not None:
        return error
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return wechat_error(47001, "data format error")
    state = _state()
    with state.lock:
        order = _order_by_key(state, body.get("order_key"))
        if order is None:
            return wechat_error(10060001, "支付单不存在")
        problem = _shipping_problem(body, order)
        if problem:
            return wechat_error(47001, f"data format error: {problem}")
        shipping = store(state)["shipping"].setdefault(
            order["transaction_id"], {"uploads": [], "order_state": 1}
        )
        if order["trade_state"] == "REFUND" or shipping["order_state"] >= 3:
            return wechat_error(10060004, "支付单处于不可发货的状态")
        if len(shipping["uploads"]) >= 2:
            return wechat_error(10060003, "支付单已使用重新发货机会")
        if (
            shipping["uploads"]
            and _parse_time(body["upload_time"]) <= shipping["uploads"][-1]["upload_at"]
        ):
            return wechat_error(47001, "data format error: upload_time must be later")
        first = not shipping["uploads"]
        shipping["uploads"].append({**body, "upload_at": _parse_time(body["upload_time"])})
        shipping["order_state"] = 2
        shipping["shipped_at"] = shipping.get("shipped_at") or time.time()
    if first:
        push_settlement(state, order, shipping, shipped=True)
    return json_response({"errcode": 0, "errmsg": "ok"})


def _order_by_key(state, key):
    if not isinstance(key, dict):
        return None
    if key.get("order_number_type") == 2:
        order = state.order_by_transaction(key.get("transaction_id"))
    elif key.get("order_number_type") == 1 and key.get("mchid") == state.config.mchid:
        order = state.order(key["mchid"], key.get("out_trade_no"))
    else:
        return None
    return order if order and order.get("transaction_id") else None


def _shipping_problem(body, order):
    """What makes an upload malformed (WeChat answers 47001), or None."""
    if body.get("logistics_type") not in (1, 2, 3, 4):
        return "logistics_type must be 1..4"
    if body.get("delivery_mode") not in (1, 2):
        return "delivery_mode must be 1 or 2"
    parcels = body.get("shipping_list")
    if not isinstance(parcels, list) or not 1 <= len(parcels) <= MAX_PARCELS:
        return "shipping_list must have 1..15 items"
    if body["delivery_mode"] == 1 and len(parcels) != 1:
        return "a unified delivery has one item"
    if body["delivery_mode"] == 2 and (
        body["logistics_type"] != 1 or not isinstance(body.get("is_all_delivered"), bool)
    ):
        return "a split delivery is express only and needs is_all_delivered"
    for parcel in parcels:
        if not isinstance(parcel, dict) or not _text(parcel.get("item_desc"), 120):
            return "item_desc must be 1..120 characters"
        if body["logistics_type"] == 1:
            if not _text(parcel.get("tracking_no"), 128) or not _text(
                parcel.get("express_company"), 128
            ):
                return "express needs tracking_no and express_company"
            contact = parcel.get("contact") if isinstance(parcel.get("contact"), dict) else {}
            if parcel["express_company"] == "SF" and not (
                contact.get("receiver_contact") or contact.get("consignor_contact")
            ):
                return "SF Express needs a contact"
    payer = body.get("payer")
    if not isinstance(payer, dict) or payer.get("openid") != _payer(order):
        return "payer.openid is not the payer of this order"
    if _parse_time(body.get("upload_time")) is None:
        return "upload_time must be RFC 3339"
    return None


def _payer(order):
    """The payer's openid of an order of either API version (a service provider's: its
    sp_openid or sub_openid, the openid under the app the user paid in)."""
    payer = order.get("payer", {})
    return (
        order.get("openid")
        or payer.get("openid")
        or payer.get("sub_openid")
        or payer.get("sp_openid")
    )


def _text(value, limit):
    return isinstance(value, str) and 1 <= len(value) <= limit


def _parse_time(value):
    try:
        return datetime.fromisoformat(value).timestamp()
    except (TypeError, ValueError):
        return None


@bp.post("/wxa/sec/order/get_order")
def get_order():
    if (error := token_error()) is not None:
        return error
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return wechat_error(47001, "data format error")
    state = _state()
    with state.lock:
        if body.get("transaction_id"):
            order = _order_by_key(
                state, {"order_number_type": 2, "transaction_id": body["transaction_id"]}
            )
        else:
            order = _order_by_key(
                state,
                {
                    "order_number_type": 1,
                    "mchid": body.get("merchant_id"),
                    "out_trade_no": body.get("merchant_trade_no"),
                },
            )
        if order is None:
            return wechat_error(10060001, "支付单不存在")
        shipping = store(state)["shipping"].get(
            order["transaction_id"], {"uploads": [], "order_state": 1}
        )
        view = _order_view(order, shipping)
    return json_response({"errcode": 0, "errmsg": "ok", "order": view})


def _order_view(order, shipping):
    state = (
        5
        if order["trade_state"] == "REFUND" and shipping["order_state"] < 4
        else shipping["order_state"]
    )
    view = {
        "transaction_id": order["transaction_id"],
        "merchant_id": _state().config.mchid,
        "merchant_trade_no": order["out_trade_no"],
        "description": order.get("description") or order.get("body", ""),
        "paid_amount": order.get("amount", {}).get("total") or int(order.get("total_fee", 0)),
        "openid": _payer(order),
        "trade_create_time": int(order["created_at"]),
        "pay_time": int(order["paid_at"]),
        "order_state": state,
        "in_complaint": False,
    }
    if shipping["uploads"]:
        last = shipping["uploads"][-1]
        view["shipping"] = {
            "delivery_mode": last["delivery_mode"],
            "logistics_type": last["logistics_type"],
            "finish_shipping": last["delivery_mode"] == 1 or bool(last.get("is_all_delivered")),
            "finish_shipping_count": len(shipping["uploads"]) - 1,
            "goods_desc": last["shipping_list"][0]["item_desc"],
            "shipping_list": [
                {
                    "tracking_no": p.get("tracking_no", ""),
                    "express_company": p.get("express_company", ""),
                    "goods_desc": p["item_desc"],
                    "upload_time": int(last["upload_at"]),
                }
                for p in last["shipping_list"]
            ],
        }
    return view


def push_settlement(state, order, shipping, shipped):
    """trade_manage_order_settlement, as WeChat pushes it when an order ships and settles."""
    message = {
        "ToUserName": "gh_" + state.config.appid[2:14],
        "FromUserName": "o_wechat_system",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "trade_manage_order_settlement",
        "transaction_id": order["transaction_id"],
        "merchant_id": state.config.mchid,
        "merchant_trade_no": order["out_trade_no"],
        "pay_time": int(order["paid_at"]),
        "shipped_time": int(shipping["shipped_at"]),
    }
    if shipped:
        message["estimated_settlement_time"] = int(shipping["shipped_at"]) + SETTLEMENT_DELAY
    else:
        message.update(
            confirm_receive_method=2,
            confirm_receive_time=int(shipping["received_at"]),
            settlement_time=int(shipping["settled_at"]),
        )
    push.send(state, message, out_trade_no=order["out_trade_no"])

"""Orders (docs/protocol.md C1-C8): ``POST /v3/pay/transactions/{jsapi,native,app,h5}``, query by
out_trade_no or transaction_id, close; and the ``TRANSACTION.SUCCESS`` notification of a paid
order (``notify_payment``, wired in ``create_app``).
"""

import re
import time
import uuid
from datetime import datetime

from flask import Response, current_app, request

from server.wechatpay.crypto import aes_gcm_encrypt, nonce

from ...state import DEFAULT_ORDER_LIFETIME, PAID_STATES
from ...wire import json_bytes, json_response, rfc3339, signed_headers
from .. import codepay, h5
from .core import ApiError, blueprint, json_body, param_error, valid_notify_url

OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
TRADE_TYPES = {"jsapi": "JSAPI", "app": "APP", "h5": "MWEB", "native": "NATIVE"}
TRADE_STATE_DESC = {
    "SUCCESS": "支付成功",
    "NOTPAY": "订单未支付",
    "CLOSED": "订单已关闭",
    "REFUND": "订单发生过退款",
    "USERPAYING": "用户支付中，需要输入密码",
    "PAYERROR": "支付失败",
    "REVOKED": "已撤销",
}


bp = blueprint("v3_transactions", __name__)


def _state():
    return current_app.extensions["sandbox"]


@bp.post("/v3/pay/transactions/<kind>")
def place_order(kind):
    if kind not in TRADE_TYPES:
        raise ApiError(404, "NOT_FOUND", "请求的资源不存在")
    params = json_body()
    return placed(_validate_order(params, kind, _state().config), params, kind)


def placed(order, params, kind):
    """Keep a new order, or answer the same one again: an unpaid, open order sent again with
    the same parameters (a provider's too: ``partner.py``)."""
    state = _state()
    with state.lock:
        existing = state.order(order["mchid"], order["out_trade_no"])
        if existing is not None:
            if existing["trade_state"] in PAID_STATES:
                raise ApiError(400, "ORDERPAID", "该订单已支付")
            if existing["trade_state"] == "CLOSED":
                raise ApiError(400, "ORDER_CLOSED", "该订单已关闭")
            if existing["api_version"] != "v3" or existing["request"] != params:
                raise ApiError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
            if existing["prepay_expires_at"] < time.time():
                state.renew_prepay(existing)
            order = existing
        else:
            state.add_order(order)
        return json_response(_prepay_answer(order, kind))


def _prepay_answer(order, kind):
    if kind == "native":
        return {"code_url": "weixin://wxpay/bizpayurl?pr=" + order["prepay_id"][-10:]}
    if kind == "h5":
        return {"h5_url": h5.h5_url(order)}  # on the simulator's host (WeChat's: wx.tenpay.com)
    return {"prepay_id": order["prepay_id"]}


@bp.get("/v3/pay/transactions/out-trade-no/<out_trade_no>")
def query_by_out_trade_no(out_trade_no):
    return query(_require_mchid(request.args.get("mchid"), "query"), out_trade_no=out_trade_no)


@bp.get("/v3/pay/transactions/id/<transaction_id>")
def query_by_transaction_id(transaction_id):
    mchid = _require_mchid(request.args.get("mchid"), "query")
    return query(mchid, transaction_id=transaction_id)


def query(mchid, out_trade_no=None, transaction_id=None):
    """The answer to a query of one of ``mchid``'s orders (a sub-merchant's: ``partner.py``)."""
    state = _state()
    with state.lock:
        if transaction_id is None:
            order = state.order(mchid, out_trade_no)
        else:
            order = state.order_by_transaction(transaction_id, mchid)
        if order is None or order["api_version"] != "v3":
            raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        codepay.advance(state, order)
        return json_response(transaction_view(order))


@bp.post("/v3/pay/transactions/out-trade-no/<out_trade_no>/close")
def close_order(out_trade_no):
    return close(_require_mchid(json_body().get("mchid"), "body"), out_trade_no)


def close(mchid, out_trade_no):
    """Close one of ``mchid``'s orders (a sub-merchant's: ``partner.py``)."""
    state = _state()
    with state.lock:
        order = state.order(mchid, out_trade_no)
        if order is None or order["api_version"] != "v3":
            raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        if order["trade_state"] in PAID_STATES:
            raise ApiError(400, "ORDERPAID", "该订单已支付")
        order["trade_state"] = "CLOSED"
    return Response(status=204)


def transaction_view(order):
    """The transaction object of a query answer and of the decrypted notification
    (docs/protocol.md C6); a service provider's order in the partner shape."""
    if order.get("sp_mchid"):
        from .partner import partner_view

        return partner_view(order)
    view = {
        "appid": order["appid"],
        "mchid": order["mchid"],
        "out_trade_no": order["out_trade_no"],
        "trade_state": order["trade_state"],
        "trade_state_desc": TRADE_STATE_DESC.get(order["trade_state"], ""),
        "attach": order.get("attach", ""),
        "amount": {"total": order["amount"]["total"], "currency": "CNY", "payer_currency": "CNY"},
        "promotion_detail": [],
    }
    device_id = (order.get("scene_info") or {}).get("device_id")
    if device_id:
        view["scene_info"] = {"device_id": device_id}
    if order.get("transaction_id"):
        view.update(
            transaction_id=order["transaction_id"],
            trade_type=order["trade_type"],
            bank_type=order["bank_type"],
            success_time=order["success_time"],
            payer={"openid": order["payer"].get("openid", "")},
        )
        view["amount"]["payer_total"] = order["amount"]["total"]
    return view


# --- the payment notification --------------------------------------------------------------


def notify_payment(state, order):
    """Send TRANSACTION.SUCCESS for a paid v3 order (docs/protocol.md C6); returns the event id."""
    config = state.config
    event_id = str(uuid.uuid4())
    resource_nonce = nonce(12)
    with state.lock:
        transaction = json_bytes(transaction_view(order))
    body = json_bytes(
        {
            "id": event_id,
            "create_time": rfc3339(time.time()),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": aes_gcm_encrypt(
                    config.apiv3_key, resource_nonce, transaction, "transaction"
                ),
                "associated_data": "transaction",
                "nonce": resource_nonce,
            },
        }
    )
    signer = config.notification_signer()

    def headers(payload):
        return {
            "Content-Type": "application/json",
            "User-Agent": "Mozilla/4.0",
            **signed_headers(signer, payload),
        }

    state.deliver(
        order["notify_url"],
        body,
        headers,
        lambda response: response.status_code in (200, 204),
        event_id=event_id,
        out_trade_no=order["out_trade_no"],
    )
    return event_id


# --- validation --------------------------------------------------------------------------------


def _require_mchid(mchid, location):
    if not mchid:
        raise ApiError(
            400,
            "PARAM_ERROR",
            "缺少参数mchid",
            {"field": "mchid", "location": location, "issue": "required"},
        )
    if mchid != _state().config.mchid:
        raise ApiError(400, "MCH_NOT_EXISTS", "商户号不存在或与签名商户号不一致")
    return mchid


def _validate_order(params, kind, config):
    def text(name, limit, required=True):
        value = params.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise param_error(f"/{name}", "is required and must be a non-empty string")
        if len(value) > limit:
            raise param_error(f"/{name}", f"is longer than {limit} characters", value)
        if any(ord(char) > 0xFFFF for char in value):
            # WeChat accepts only characters of 1-3 UTF-8 bytes (docs/protocol.md C1): no emoji.
            raise param_error(f"/{name}", "contains a character of 4 UTF-8 bytes", value)
        return value

    appid, mchid = text("appid", 32), text("mchid", 32)
    description = text("description", 127)
    out_trade_no = text("out_trade_no", 32)
    if not OUT_TRADE_NO.match(out_trade_no):
        raise param_error("/out_trade_no", "must be 6-32 characters of 0-9a-zA-Z_-|*", out_trade_no)
    attach = text("attach", 128, required=False) or ""
    notify_url = valid_notify_url(text("notify_url", 256))

    amount = params.get("amount")
    total = amount.get("total") if isinstance(amount, dict) else None
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise param_error("/amount/total", "must be a positive integer (fen)")
    if amount.get("currency", "CNY") != "CNY":
        raise param_error("/amount/currency", "must be CNY", amount.get("currency"))

    payer = params.get("payer") if isinstance(params.get("payer"), dict) else {}
    if kind == "jsapi" and (not isinstance(payer.get("openid"), str) or not payer["openid"]):
        raise param_error("/payer/openid", "is required for JSAPI")
    if "scene_info" in params and not isinstance(params["scene_info"], dict):
        raise param_error("/scene_info", "must be an object")
    if kind == "h5" and not (params.get("scene_info") or {}).get("payer_client_ip"):
        raise param_error("/scene_info/payer_client_ip", "is required for H5")

    now = time.time()
    expire_at = now + DEFAULT_ORDER_LIFETIME
    if params.get("time_expire") is not None:
        expire_at = _rfc3339_time(params["time_expire"])
        if expire_at <= now:
            raise param_error("/time_expire", "must be in the future", params["time_expire"])

    if appid not in _state().appids():
        raise ApiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
    if mchid != config.mchid:
        raise ApiError(400, "MCH_NOT_EXISTS", "商户号不存在或与签名商户号不一致")

    return {
        "api_version": "v3",
        "trade_type": TRADE_TYPES[kind],
        "appid": appid,
        "mchid": mchid,
        "description": description,
        "out_trade_no": out_trade_no,
        "attach": attach,
        "notify_url": notify_url,
        "amount": {"total": total, "currency": "CNY"},
        "payer": {"openid": payer.get("openid", "")},
        "time_expire": params.get("time_expire"),
        "scene_info": params.get("scene_info"),
        "expire_at": expire_at,
        "created_at": now,
        "trade_state": "NOTPAY",
        "transaction_id": None,
        "success_time": None,
        "paid_at": None,
        "request": params,
    }


def _rfc3339_time(value):
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value:
        raise param_error(
            "/time_expire",
            "must be RFC3339 with a time zone, e.g. 2018-06-08T10:34:56+08:00",
            value,
        )
    return parsed.timestamp()

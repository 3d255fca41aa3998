"""``POST /sandbox/pay``: the user at WeChat's cashier (see ``sandbox.control``)."""

import time

from flask import Blueprint, current_app

from server.wechatpay.crypto import rsa_verify, v2_verify

from ..pay.v3.partner import paying_appid
from ..state import PAID_STATES
from ..wire import control_body, control_error, json_response

bp = Blueprint("control_cashier", __name__, url_prefix="/sandbox")


def _state():
    return current_app.extensions["sandbox"]


@bp.post("/pay")
def cashier():
    data = control_body()
    action = data.get("action", "pay")
    if action not in ("pay", "cancel"):
        return control_error(400, "INVALID_REQUEST", 'action must be "pay" or "cancel"')
    if not all(isinstance(data.get(name) or "", str) for name in ("prepay_id", "out_trade_no")):
        return control_error(400, "INVALID_REQUEST", "prepay_id and out_trade_no are strings")
    if not isinstance(data.get("mchid") or "", str):
        return control_error(400, "INVALID_REQUEST", "mchid is a string")
    state = _state()
    pay_params = data.get("pay_params")
    if pay_params is not None:
        package = pay_params.get("package") if isinstance(pay_params, dict) else None
        with state.lock:
            paying = state.order_by_prepay(str(package or "").removeprefix("prepay_id="))
        failure = pay_sign_failure(state, pay_params, paying)
        if failure:
            return json_response(
                {
                    "error": {
                        "code": "PAYSIGN_INVALID",
                        "message": failure,
                        "errMsg": f"requestPayment:fail {failure}",
                    }
                },
                400,
            )
        data = {"prepay_id": pay_params["package"].removeprefix("prepay_id=")}
    with state.lock:
        if data.get("prepay_id"):
            order = state.order_by_prepay(data["prepay_id"])
        else:
            order = state.find_order(data.get("out_trade_no"), data.get("mchid") or None)
        if order is None:
            return control_error(404, "PREPAY_NOT_FOUND", "no order has this prepay_id")
        now = time.time()
        if (
            data.get("prepay_id")
            and data["prepay_id"] != order["prepay_id"]
            or order["prepay_expires_at"] < now
        ):
            return control_error(400, "PREPAY_EXPIRED", "this prepay_id has expired")
        if order["trade_state"] in PAID_STATES:
            return control_error(400, "ORDERPAID", "the order is already paid")
        if order["trade_state"] == "CLOSED":
            return control_error(400, "ORDER_CLOSED", "the order is closed")
        if order["expire_at"] < now:
            return control_error(400, "ORDER_EXPIRED", "the order is past its time_expire")
        answer = {"out_trade_no": order["out_trade_no"], "trade_state": order["trade_state"]}
        if action == "pay":
            state.mark_paid(order)
            answer.update(trade_state="SUCCESS", transaction_id=order["transaction_id"])
    if action == "pay":
        answer["event_id"] = state.notify(order)
    return json_response(answer)


def pay_sign_failure(state, params, order=None, appid=None):
    """Why WeChat's client would refuse these wx.requestPayment parameters, or None.

    The appId paySign covers is the app the client runs in: ``appid`` (default the mini
    program; an official account's page gives its own, getBrandWCPayRequest's appId); for a
    service provider's order, one of the order's appids, the one its payer's openid is under
    (sub_appid for a sub_openid, sp_appid for an sp_openid)."""
    if not isinstance(params, dict) or not all(
        isinstance(params.get(name), str) and params[name]
        for name in ("timeStamp", "nonceStr", "package", "paySign")
    ):
        return "parameter error: timeStamp, nonceStr, package and paySign must be strings"
    if not params["package"].startswith("prepay_id="):
        return "parameter error: package should be prepay_id=..."
    appid = appid or state.config.appid  # the client checks for the app it runs in
    if order is not None and order.get("sp_mchid"):
        appid = paying_appid(order)
    sign_type = params.get("signType") or "MD5"
    if sign_type == "RSA":
        good = rsa_verify(
            state.config.merchant_public_key,
            f"{appid}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode(),
            params["paySign"],
        )
    elif sign_type in ("MD5", "HMAC-SHA256") and state.settings.get("WECHATPAY_API_KEY"):
        signed = {
            "appId": appid,
            **{
                name: params[name]
                for name in ("timeStamp", "nonceStr", "package", "signType")
                if name in params
            },
            "sign": params["paySign"],
        }
        good = v2_verify(signed, state.settings["WECHATPAY_API_KEY"], sign_type)
    else:
        return f"parameter error: signType {sign_type} is not supported"
    return None if good else "支付验证签名失败"

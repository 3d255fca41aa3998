"""Payment code, API v3 (docs/counter.md): ``POST /v3/pay/transactions/codepay`` and
``POST /v3/pay/transactions/out-trade-no/{out_trade_no}/reverse``, and a service provider's
under ``/v3/pay/partner/transactions`` (its ids checked by ``partner.py``); the customer is
``sandbox.pay.codepay``'s. Query is the usual ``GET /v3/pay/transactions/out-trade-no/...``
(``transactions.py``), which shows ``trade_type`` MICROPAY.

Answers: paid, 200 and the transaction (as a query shows it); PIN asked, 202 with only
``{"trade_state": "USERPAYING"}`` (WeChat gives nothing else then: docs/counter.md);
SYSTEM_ERROR and BANK_ERROR 500 (the result is unknown: query); NOT_ENOUGH 403;
AUTHCODEEXPIRE and AUTH_CODE_INVALID 400 (v2's names: v3's own spelling of an expired or
invalid code is not confirmed, docs/counter.md "Error codes"); the same out_trade_no again
ORDERPAID, ORDERREVERSED (400) or OUT_TRADE_NO_USED (403). Reverse: 200 ``{appid, mchid,
out_trade_no}``; 400 USERPAYING while the PIN dialog is open; 500 SYSTEM_ERROR when the recall
switch is on (call again).
"""

from flask import current_app, request

from ...wire import json_response
from .. import codepay
from .core import ApiError, blueprint, json_body, param_error
from .partner import IDS, check_sub_mchid, partner_order
from .transactions import OUT_TRADE_NO, transaction_view

bp = blueprint("v3_codepay", __name__)

# The v2 err_code of a refusal -> (HTTP status, v3 code).
V3_ERRORS = {
    "SYSTEMERROR": (500, "SYSTEM_ERROR"),
    "BANKERROR": (500, "BANK_ERROR"),
    "NOTENOUGH": (403, "NOT_ENOUGH"),
    "AUTHCODEEXPIRE": (400, "AUTHCODEEXPIRE"),
    "AUTH_CODE_INVALID": (400, "AUTH_CODE_INVALID"),
    "ORDERPAID": (400, "ORDERPAID"),
    "ORDERREVERSED": (400, "ORDERREVERSED"),
    "ORDERCLOSED": (400, "ORDER_CLOSED"),
    "TRADE_ERROR": (403, "TRADE_ERROR"),
    "USERPAYING": (400, "USERPAYING"),
    "REVERSE_EXPIRE": (400, "REVERSE_EXPIRE"),
}


def _state():
    return current_app.extensions["sandbox"]


def _error(refusal):
    status, code = V3_ERRORS.get(refusal.code, (400, refusal.code))
    return ApiError(status, code, refusal.message)


@bp.post("/v3/pay/transactions/codepay")
def codepay_order():
    params = json_body()
    return _charge(_validate(params, _state().config), params)


@bp.post("/v3/pay/partner/transactions/codepay")
def partner_codepay_order():
    """A service provider's payment code: its ids checked as for its other orders."""
    params = json_body()
    return _charge(partner_order(params, lambda direct: _validate(direct, _state().config)), params)


def _charge(order, params):
    state = _state()
    with state.lock:
        existing = state.order(order["mchid"], order["out_trade_no"])
        if existing is not None:
            if existing["api_version"] != "v3" or existing["request"] != params:
                raise ApiError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
            codepay.advance(state, existing)
            try:
                trade_state = codepay.resubmitted(existing)
            except codepay.CounterError as refusal:
                raise _error(refusal) from None
            return json_response({"trade_state": trade_state}, 202)
    try:
        trade_state = codepay.charge(state, order, params["payer"]["auth_code"])
    except codepay.CounterError as refusal:
        raise _error(refusal) from None
    if trade_state == codepay.USERPAYING:
        return json_response({"trade_state": codepay.USERPAYING}, 202)
    with state.lock:
        return json_response(transaction_view(order))


@bp.post("/v3/pay/transactions/out-trade-no/<out_trade_no>/reverse")
def reverse(out_trade_no):
    params = json_body()
    mchid, appid = params.get("mchid"), params.get("appid")
    if not isinstance(mchid, str) or not mchid:
        raise param_error("/mchid", "is required")
    if not isinstance(appid, str) or not appid:
        raise param_error("/appid", "is required")
    if mchid != _state().config.mchid:
        raise ApiError(400, "MCH_NOT_EXISTS", "商户号不存在或与签名商户号不一致")
    _reverse(mchid, out_trade_no, appid)
    return json_response({"appid": appid, "mchid": mchid, "out_trade_no": out_trade_no})


@bp.post("/v3/pay/partner/transactions/out-trade-no/<out_trade_no>/reverse")
def partner_reverse(out_trade_no):
    """A service provider's reverse: sp_appid, sp_mchid, sub_mchid (and sub_appid) in the
    body, answered back with the out_trade_no."""
    params = json_body()
    sub_mchid = check_sub_mchid(params.get("sub_mchid"), params.get("sp_mchid"))
    sp_appid = params.get("sp_appid")
    if not isinstance(sp_appid, str) or not sp_appid:
        raise param_error("/sp_appid", "is required")
    _reverse(sub_mchid, out_trade_no, sp_appid)
    ids = {name: params[name] for name in IDS if params.get(name)}
    return json_response({**ids, "out_trade_no": out_trade_no})


def _reverse(mchid, out_trade_no, appid):
    """Reverse one of ``mchid``'s payment-code orders (a sub-merchant's for a provider)."""
    state = _state()
    with state.lock:
        order = state.order(mchid, out_trade_no)
        if order is None or order["api_version"] != "v3":
            raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        if appid != order["appid"]:
            raise ApiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        try:
            outcome = codepay.reverse(state, order)
        except codepay.CounterError as refusal:
            raise _error(refusal) from None
    if outcome == "RECALL":
        raise ApiError(500, "SYSTEM_ERROR", "系统错误，请再次调用撤销")


def _validate(params, config):
    def text(name, value, limit):
        if not isinstance(value, str) or not value:
            raise param_error(f"/{name}", "is required and must be a non-empty string")
        if len(value) > limit:
            raise param_error(f"/{name}", f"is longer than {limit} characters", value)
        return value

    appid = text("appid", params.get("appid"), 32)
    mchid = text("mchid", params.get("mchid"), 32)
    description = text("description", params.get("description"), 127)
    out_trade_no = text("out_trade_no", params.get("out_trade_no"), 32)
    if not OUT_TRADE_NO.match(out_trade_no):
        raise param_error("/out_trade_no", "must be 6-32 characters of 0-9a-zA-Z_-|*", out_trade_no)
    payer = params.get("payer") if isinstance(params.get("payer"), dict) else {}
    text("payer/auth_code", payer.get("auth_code"), 32)
    amount = params.get("amount") if isinstance(params.get("amount"), dict) else {}
    total = amount.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise param_error("/amount/total", "must be a positive integer (fen)")
    if amount.get("currency", "CNY") != "CNY":
        raise param_error("/amount/currency", "must be CNY", amount.get("currency"))
    # scene_info is required for the payment code (the terminal's IP at least).
    scene = params.get("scene_info")
    if not isinstance(scene, dict) or not isinstance(scene.get("device_ip"), str):
        raise param_error("/scene_info/device_ip", "is required for the payment code")
    if appid != config.appid:
        raise ApiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
    if mchid != config.mchid:
        raise ApiError(400, "MCH_NOT_EXISTS", "商户号不存在或与签名商户号不一致")
    if request.args:
        raise param_error("/", "takes no query parameters")
    return {
        "api_version": "v3",
        "appid": appid,
        "mchid": mchid,
        "description": description,
        "out_trade_no": out_trade_no,
        "attach": params.get("attach") or "",
        "amount": {"total": total, "currency": "CNY"},
        "scene_info": scene,
        "time_expire": None,
        "request": params,
    }

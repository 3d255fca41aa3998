"""Payment code, API v2 (docs/counter.md): ``/pay/micropay`` and ``/secapi/pay/reverse``
(mutual TLS, like refunds: ``core``); the customer is ``sandbox.pay.codepay``'s. Query is the
usual ``/pay/orderquery`` (``orders.py``), which shows ``trade_type`` MICROPAY.

micropay answers the paid order's fields (openid, trade_type MICROPAY, bank_type, total_fee,
cash_fee, transaction_id, time_end...) or ``result_code=FAIL`` with the err_code: USERPAYING
(the PIN is asked: query), SYSTEMERROR / BANKERROR (unknown: query), NOTENOUGH,
AUTHCODEEXPIRE, AUTH_CODE_INVALID, ORDERPAID, ORDERREVERSED, OUT_TRADE_NO_USED.
A service provider's requests add ``sub_mch_id`` (bound to it, and ``sub_appid`` to that):
the order is the sub-merchant's, as for unifiedorder (``core.merchant``).
reverse answers ``recall=N`` once done, ``recall=Y`` when it must be called again (the recall
switch), and err_code USERPAYING while the PIN dialog is open.
"""

import ipaddress
import re

from server.wechatpay.checks import ASCII_DIGITS

from .. import codepay
from .core import BusinessError, blueprint, endpoint, merchant
from .orders import VOLATILE_FIELDS, transaction_fields

OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{1,32}$")

bp = blueprint("v2_codepay", __name__)


@bp.route("/pay/micropay", methods=["GET", "POST"])
def micropay():
    return endpoint(_micropay)


@bp.route("/secapi/pay/reverse", methods=["GET", "POST"])
def reverse():
    return endpoint(_reverse)


def _micropay(fields, state):
    order = _validate(fields)
    with state.lock:
        existing = state.order(order["mchid"], order["out_trade_no"])
        if existing is not None:
            if existing["api_version"] != "v2" or existing["request"] != order["request"]:
                raise BusinessError("OUT_TRADE_NO_USED", "商户订单号重复")
            codepay.advance(state, existing)
            try:
                codepay.resubmitted(existing)
            except codepay.CounterError as refusal:
                raise BusinessError(refusal.code, refusal.message) from None
            raise BusinessError("USERPAYING", "需要用户输入支付密码")
    try:
        trade_state = codepay.charge(state, order, fields["auth_code"])
    except codepay.CounterError as refusal:
        raise BusinessError(refusal.code, refusal.message) from None
    if trade_state == codepay.USERPAYING:
        raise BusinessError("USERPAYING", "需要用户输入支付密码")
    with state.lock:
        return transaction_fields(order, with_state=False)


def _reverse(fields, state):
    if not (fields.get("transaction_id") or fields.get("out_trade_no")):
        raise BusinessError("LACK_PARAMS", "缺少参数transaction_id或out_trade_no")
    with state.lock:
        order = state.order_by_reference(fields, merchant(fields))
        if order is None or order["api_version"] != "v2":
            raise BusinessError("ORDERNOTEXIST", "此交易订单号不存在")
        try:
            outcome = codepay.reverse(state, order)
        except codepay.CounterError as refusal:
            raise BusinessError(refusal.code, refusal.message) from None
    return {"recall": "Y" if outcome == "RECALL" else "N"}


def _validate(fields):
    def text(name, limit):
        value = fields.get(name, "")
        if not value:
            raise BusinessError("LACK_PARAMS", f"缺少参数{name}")
        if len(value) > limit:
            raise BusinessError("PARAM_ERROR", f"{name}参数长度有误")
        return value

    body, out_trade_no = text("body", 127), text("out_trade_no", 32)
    total_fee, client_ip = text("total_fee", 12), text("spbill_create_ip", 64)
    text("auth_code", 128)
    if not OUT_TRADE_NO.match(out_trade_no):
        raise BusinessError("PARAM_ERROR", "out_trade_no参数格式错误")
    if not ASCII_DIGITS.fullmatch(total_fee) or int(total_fee) <= 0:
        raise BusinessError("PARAM_ERROR", "total_fee参数格式错误")
    try:
        ipaddress.ip_address(client_ip)
    except ValueError:
        raise BusinessError("PARAM_ERROR", "spbill_create_ip参数格式错误") from None
    order = {
        "api_version": "v2",
        "appid": fields["appid"],
        "mchid": fields["mch_id"],
        "description": body,
        "out_trade_no": out_trade_no,
        "attach": fields.get("attach", ""),
        "amount": {"total": int(total_fee), "currency": "CNY"},
        "spbill_create_ip": client_ip,
        "sign_type": fields.get("sign_type") or "MD5",
        "time_expire": None,
        "request": {k: v for k, v in fields.items() if k not in VOLATILE_FIELDS},
    }
    if fields.get("sub_mch_id"):  # a service provider's, kept under its sub-merchant
        order.update(mchid=merchant(fields), sp_mchid=fields["mch_id"])
        order["sub_appid"] = fields.get("sub_appid")
    return order

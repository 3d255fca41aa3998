"""API v2 orders (docs/protocol.md B1-B5): ``/pay/unifiedorder`` (JSAPI, NATIVE, APP, MWEB),
``/pay/orderquery``, ``/pay/closeorder``; and the payment notification of a paid order
(``notify_payment``, wired in ``create_app``).
"""

import ipaddress
import re
import time
from datetime import datetime

from server.wechatpay.checks import ASCII_DIGITS
from server.wechatpay.crypto import MD5, nonce, v2_sign

from ...state import DEFAULT_ORDER_LIFETIME, PAID_STATES
from ...wire import BEIJING, compact_time
from .. import codepay, h5
from ..checks import is_notify_url
from .core import (
    BusinessError,
    acknowledged,
    api_key,
    blueprint,
    endpoint,
    from_xml,
    merchant,
    to_xml,
)

OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{1,32}$")
TRADE_TYPES = ("JSAPI", "NATIVE", "APP", "MWEB")
MIN_EXPIRE_SECONDS = 60
TRADE_STATE_DESC = {
    "SUCCESS": "支付成功",
    "NOTPAY": "订单未支付",
    "CLOSED": "订单已关闭",
    "REFUND": "转入退款",
    "REVOKED": "已撤销",
    "USERPAYING": "用户支付中",
    "PAYERROR": "支付失败",
}
# Not part of "same parameters" when an out_trade_no is submitted again.
VOLATILE_FIELDS = {"nonce_str", "sign", "sign_type", "spbill_create_ip"}


bp = blueprint("v2_orders", __name__)


@bp.route("/pay/unifiedorder", methods=["GET", "POST"])
def unifiedorder():
    return endpoint(_unifiedorder)


@bp.route("/pay/orderquery", methods=["GET", "POST"])
def orderquery():
    return endpoint(_orderquery)


@bp.route("/pay/closeorder", methods=["GET", "POST"])
def closeorder():
    return endpoint(_closeorder)


def _unifiedorder(fields, state):
    order = _validate_order(fields)
    with state.lock:
        existing = state.order(order["mchid"], order["out_trade_no"])
        if existing is not None:
            if existing["trade_state"] in PAID_STATES:
                raise BusinessError("ORDERPAID", "该订单已支付")
            if existing["trade_state"] == "CLOSED":
                raise BusinessError("ORDERCLOSED", "该订单已关闭")
            if existing["api_version"] != "v2" or existing["request"] != order["request"]:
                raise BusinessError("OUT_TRADE_NO_USED", "商户订单号重复")
            if existing["prepay_expires_at"] < time.time():
                state.renew_prepay(existing)
            order = existing
        else:
            state.add_order(order)
    answer_fields = {"trade_type": order["trade_type"], "prepay_id": order["prepay_id"]}
    if order["trade_type"] == "NATIVE":
        answer_fields["code_url"] = "weixin://wxpay/bizpayurl?pr=" + order["prepay_id"][-10:]
    if order["trade_type"] == "MWEB":
        answer_fields["mweb_url"] = h5.h5_url(order)  # on the simulator's host
    return answer_fields


def _orderquery(fields, state):
    if not (fields.get("transaction_id") or fields.get("out_trade_no")):
        raise BusinessError("LACK_PARAMS", "缺少参数transaction_id或out_trade_no")
    with state.lock:
        order = state.order_by_reference(fields, merchant(fields))
        if order is None or order["api_version"] != "v2":
            raise BusinessError("ORDERNOTEXIST", "此交易订单号不存在")
        codepay.advance(state, order)
        return transaction_fields(order, with_state=True)


def _closeorder(fields, state):
    if not fields.get("out_trade_no"):
        raise BusinessError("LACK_PARAMS", "缺少参数out_trade_no")
    with state.lock:
        order = state.order(merchant(fields), fields["out_trade_no"])
        if order is None or order["api_version"] != "v2":
            raise BusinessError("ORDERNOTEXIST", "此交易订单号不存在")
        if order["trade_state"] in PAID_STATES:
            raise BusinessError("ORDERPAID", "订单已支付，不能发起关单")
        if order["trade_state"] == "CLOSED":
            raise BusinessError("ORDERCLOSED", "订单已关闭，无法重复关闭")
        order["trade_state"] = "CLOSED"
    return {}


def transaction_fields(order, with_state):
    """The order as orderquery (``with_state``) or the payment notification describes it."""
    data = {
        "out_trade_no": order["out_trade_no"],
        **order["payer"],  # openid, or a service provider's sub_openid
        "is_subscribe": "N",
        "trade_type": order["trade_type"],
        "total_fee": order["amount"]["total"],
        "fee_type": "CNY",
    }
    if order.get("sp_mchid"):  # a sub-merchant's order: its ids beside the provider's
        data["sub_mch_id"] = order["mchid"]
        if order.get("sub_appid"):
            data["sub_appid"] = order["sub_appid"]
    if with_state:
        data["trade_state"] = order["trade_state"]
        data["trade_state_desc"] = TRADE_STATE_DESC.get(order["trade_state"], "")
    if order.get("attach"):
        data["attach"] = order["attach"]
    if order.get("transaction_id"):
        data.update(
            transaction_id=order["transaction_id"],
            bank_type=order["bank_type"],
            cash_fee=order["amount"]["total"],
            time_end=compact_time(order["paid_at"]),
        )
    return data


# --- validation ---------------------------------------------------------------------------------


def _validate_order(fields):
    def text(name, limit, required=True):
        value = fields.get(name, "")
        if not value:
            if required:
                raise BusinessError("LACK_PARAMS", f"缺少参数{name}")
            return ""
        if len(value) > limit:
            raise BusinessError("INVALID_REQUEST", f"{name}参数长度有误")
        return value

    body, out_trade_no = text("body", 127), text("out_trade_no", 32)
    total_fee, client_ip = text("total_fee", 12), text("spbill_create_ip", 64)
    notify_url, trade_type = text("notify_url", 256), text("trade_type", 16)
    attach = text("attach", 127, required=False)
    if not OUT_TRADE_NO.match(out_trade_no):
        raise BusinessError("INVALID_REQUEST", "out_trade_no参数格式错误")
    if not ASCII_DIGITS.fullmatch(total_fee) or int(total_fee) <= 0:
        raise BusinessError("INVALID_REQUEST", "total_fee参数格式错误")
    try:
        ipaddress.ip_address(client_ip)
    except ValueError:
        raise BusinessError("INVALID_REQUEST", "spbill_create_ip参数格式错误") from None
    if not is_notify_url(notify_url):
        raise BusinessError("INVALID_REQUEST", "notify_url参数格式错误，不能携带参数")
    if trade_type not in TRADE_TYPES:
        raise BusinessError("INVALID_REQUEST", "trade_type参数格式错误")
    sub_mchid = merchant(fields) if fields.get("sub_mch_id") else None
    if sub_mchid and fields.get("sub_openid"):
        # A service provider's payer: openid under its appid, or sub_openid under sub_appid.
        if fields.get("openid"):
            raise BusinessError("INVALID_REQUEST", "openid和sub_openid只能传一个")
        if not fields.get("sub_appid"):
            raise BusinessError("INVALID_REQUEST", "传了sub_openid时必须传sub_appid")
        payer = {"sub_openid": text("sub_openid", 128)}
    else:
        payer = {"openid": text("openid", 128, required=trade_type == "JSAPI")}
    if trade_type == "NATIVE":
        text("product_id", 32)
    if trade_type == "MWEB":
        text("scene_info", 256)

    now = time.time()
    expire_at = now + DEFAULT_ORDER_LIFETIME
    if fields.get("time_expire"):
        expire_at = _beijing_time(fields["time_expire"], "time_expire")
        if expire_at < now + MIN_EXPIRE_SECONDS:
            raise BusinessError("INVALID_REQUEST", "time_expire时间过短，刷卡至少1分钟，其他5分钟")

    order = {
        "api_version": "v2",
        "trade_type": trade_type,
        "appid": fields["appid"],
        "mchid": fields["mch_id"],
        "description": body,
        "out_trade_no": out_trade_no,
        "attach": attach,
        "notify_url": notify_url,
        "amount": {"total": int(total_fee), "currency": "CNY"},
        "payer": payer,
        "spbill_create_ip": client_ip,
        "sign_type": fields.get("sign_type") or MD5,
        "time_expire": fields.get("time_expire"),
        "expire_at": expire_at,
        "created_at": now,
        "trade_state": "NOTPAY",
        "transaction_id": None,
        "success_time": None,
        "paid_at": None,
        "request": {k: v for k, v in fields.items() if k not in VOLATILE_FIELDS},
    }
    if sub_mchid:  # kept under the sub-merchant, as the partner v3 orders are
        order.update(mchid=sub_mchid, sp_mchid=fields["mch_id"], sub_appid=fields.get("sub_appid"))
    return order


def _beijing_time(value, name):
    try:
        if len(value) != 14 or not ASCII_DIGITS.fullmatch(value):
            raise ValueError
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp()
    except ValueError:
        raise BusinessError("INVALID_REQUEST", f"{name}参数格式错误") from None


# --- the payment notification -------------------------------------------------------------------


def notify_payment(state, order):
    """Send the v2 payment notification of a paid order (docs/protocol.md B5); returns its event id.

    Signed with the merchant key and the order's sign type; acknowledged only by a reply whose
    ``return_code`` is exactly SUCCESS, retried on WeChat's schedule otherwise.
    """
    config = state.config
    fields = {
        "appid": order["appid"],
        "mch_id": config.mchid,
        "nonce_str": nonce(32),
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        **transaction_fields(order, with_state=False),
    }
    if order["sign_type"] != MD5:
        fields["sign_type"] = order["sign_type"]
    fields["sign"] = v2_sign(fields, api_key(state), order["sign_type"])
    body = to_xml(fields)
    state.deliver(
        order["notify_url"],
        body,
        {"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"},
        acknowledged,
        event_id=order["transaction_id"],
        out_trade_no=order["out_trade_no"],
        tamper=_tamper,
    )
    return order["transaction_id"]


def _tamper(body):
    """The signed notification with total_fee changed and the old sign kept."""
    fields = from_xml(body)
    fields["total_fee"] = str(int(fields["total_fee"]) + 1)
    return to_xml(fields)

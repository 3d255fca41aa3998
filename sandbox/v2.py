"""WeChat Pay API v2 as api.mch.weixin.qq.com serves it (protocol B1-B5): XML in, XML out.

Every request is checked like WeChat does: well-formed ``<xml>`` (XML_FORMAT_ERROR), the
identity fields (LACK_PARAMS), then the merchant's ``sign`` with the API key and the request's
``sign_type`` (MD5 unless it says HMAC-SHA256); a failure at this layer is ``return_code=FAIL``
with a Chinese ``return_msg`` and no sign. Business answers are signed with the request's sign
type and carry ``result_code`` and, on failure, ``err_code``/``err_code_des``.

The XML is read with xmltodict (as wechatpy does), not with the backend's reader, so the two
sides of the tests do not share a parser. Every v2 endpoint (here, in ``sandbox.v2_refunds``
and ``sandbox.bills``) is on a blueprint made by ``blueprint()``; ``notify_v2`` is the payment
notifier ``create_app`` wires for orders whose ``api_version`` is ``v2``.

Served over TLS (``python -m sandbox --tls-cert ... --tls-key ...``), ``/secapi/`` paths
require the merchant's API certificate (``WECHATPAY_CERT``) as the TLS client certificate.
"""

import ipaddress
import re
import time
from datetime import datetime
from urllib.parse import urlsplit

import xmltodict
from cryptography import x509
from flask import Blueprint, Response, current_app, request

from server.wechatpay.checks import ASCII_DIGITS
from server.wechatpay.crypto import HMAC_SHA256, MD5, nonce, v2_sign, v2_verify

from .state import DEFAULT_ORDER_LIFETIME, PAID_STATES
from .wire import BEIJING, compact_time

MAX_REQUEST_BYTES = 64 * 1024
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


class ReturnFail(Exception):
    """The transport layer refuses the request: return_code=FAIL, unsigned."""


class BusinessError(Exception):
    """result_code=FAIL with an err_code, signed like any business answer."""

    def __init__(self, err_code, err_code_des):
        super().__init__(err_code_des)
        self.err_code, self.err_code_des = err_code, err_code_des


def _state():
    return current_app.extensions["sandbox"]


def _api_key(state):
    key = state.settings.get("WECHATPAY_API_KEY")
    if not key:  # a configuration problem of the simulator, said the way WeChat says "no"
        raise ReturnFail("模拟器未配置WECHATPAY_API_KEY")
    return key


# --- XML on the wire ---------------------------------------------------------------------------


def to_xml(fields):
    """WeChat's shape: CDATA around text, integers bare."""
    parts = []
    for name, value in fields.items():
        if isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            text = str(value).replace("]]>", "]]]]><![CDATA[>")
            parts.append(f"<{name}><![CDATA[{text}]]></{name}>")
    return ("<xml>" + "".join(parts) + "</xml>").encode()


def from_xml(data):
    """The flat fields of ``<xml>...</xml>``; ValueError for anything else (DTDs included)."""
    if (
        not data
        or len(data) > MAX_REQUEST_BYTES
        or b"<!DOCTYPE" in data.upper()
        or b"<!ENTITY" in data.upper()
    ):
        raise ValueError("empty, too large, or has a DTD")
    try:
        # Values are signed as sent: keep their whitespace (the indentation between the
        # elements then shows up as the root's "#text", which is dropped below).
        document = xmltodict.parse(data, disable_entities=True, strip_whitespace=False)
    except Exception as exc:  # expat errors, bad encodings
        raise ValueError(str(exc)) from None
    root = document.get("xml") if isinstance(document, dict) else None
    if root is None:
        return {}
    if not isinstance(root, dict) or any(
        v is not None and not isinstance(v, str) for v in root.values()
    ):
        raise ValueError("not a flat <xml> document")
    return {k: v or "" for k, v in root.items() if k[0] not in "@#"}


def xml_response(fields):
    return Response(to_xml(fields), status=200, mimetype="text/xml")


def return_fail(message):
    return xml_response({"return_code": "FAIL", "return_msg": message})


def _return_fail(error):
    return return_fail(str(error))


def require_client_certificate():
    """Over TLS, /secapi/ wants the merchant's API certificate (asked for on every connection,
    required here). Over plain HTTP there is no certificate to check: a dev convenience."""
    if not request.path.startswith("/secapi/") or request.scheme != "https":
        return None
    pem = request.environ.get("SSL_CLIENT_CERT")
    if not pem:
        raise ReturnFail("请使用商户API证书（未提供客户端证书）")
    presented = x509.load_pem_x509_certificate(pem.encode()).public_key()
    if presented.public_numbers() != _state().config.merchant_public_key.public_numbers():
        raise ReturnFail("商户API证书与商户号不匹配")
    return None


def blueprint(name, import_name):
    """A blueprint for v2 endpoints: a ``ReturnFail`` becomes WeChat's unsigned
    ``return_code=FAIL``, and over TLS its ``/secapi/`` routes require the merchant's API
    certificate."""
    bp = Blueprint(name, import_name)
    bp.before_request(require_client_certificate)
    bp.register_error_handler(ReturnFail, _return_fail)
    return bp


# --- merchant sign in, WeChat sign out ----------------------------------------------------------


def _signed_request():
    """The verified fields of the request and its sign type; ReturnFail otherwise."""
    config = _state().config
    if request.method != "POST":
        raise ReturnFail("请使用post方法")
    data = request.get_data(cache=True)
    if not data:
        raise ReturnFail("post数据为空")
    try:
        fields = from_xml(data)
    except ValueError:
        raise ReturnFail("XML格式错误") from None
    for name in ("appid", "mch_id", "nonce_str", "sign"):
        if not fields.get(name):
            raise ReturnFail(f"缺少参数{name}")
    if fields["appid"] != config.appid:
        raise ReturnFail("appid不存在")
    if fields["mch_id"] != config.mchid:
        raise ReturnFail("商户号mch_id与appid不匹配")
    if len(fields["nonce_str"]) > 32:
        raise ReturnFail("nonce_str参数长度有误")
    sign_type = fields.get("sign_type") or MD5
    if sign_type not in (MD5, HMAC_SHA256):
        raise ReturnFail("sign_type参数格式错误")
    if not v2_verify(fields, _api_key(_state()), sign_type):
        raise ReturnFail("签名错误")
    return fields, sign_type


def answer(sign_type, data=None, error=None):
    """A signed business answer: result_code SUCCESS with ``data``, or FAIL with ``error``."""
    config = _state().config
    body = {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": config.appid,
        "mch_id": config.mchid,
        "nonce_str": nonce(16),
    }
    if error is None:
        body["result_code"] = "SUCCESS"
        body.update(data or {})
    else:
        body.update(result_code="FAIL", err_code=error.err_code, err_code_des=error.err_code_des)
    body["sign"] = v2_sign(body, _api_key(_state()), sign_type)
    return xml_response(body)


def fault_answer(fault):
    """The answer for an armed API fault on a v2 path (``sandbox.fault_response``).

    With an err_code in ``"code"`` (SYSTEMERROR, BIZERR_NEED_RETRY, NOTENOUGH...) it is what
    WeChat sends for a business failure: return_code SUCCESS, result_code FAIL, signed with
    the request's sign type. Without one it is an unsigned return_code=FAIL with the message.
    """
    message = fault.get("message") or "系统繁忙,请稍后再试"
    try:
        fields = from_xml(request.get_data(cache=True))
    except ValueError:
        fields = {}
    sign_type = fields.get("sign_type") or MD5
    if not fault.get("code") or sign_type not in (MD5, HMAC_SHA256):
        response = return_fail(message)
    else:
        response = answer(sign_type, error=BusinessError(str(fault["code"]), message))
    response.status_code = fault.get("status") or 200
    return response


def _endpoint(handler):
    """Verify the request, run ``handler(fields, state)``, and sign whatever it answers."""
    fields, sign_type = _signed_request()
    try:
        return answer(sign_type, data=handler(fields, _state()))
    except BusinessError as error:
        return answer(sign_type, error=error)


# --- endpoints ---------------------------------------------------------------------------------

bp = blueprint("v2", __name__)


@bp.route("/pay/unifiedorder", methods=["GET", "POST"])
def unifiedorder():
    return _endpoint(_unifiedorder)


@bp.route("/pay/orderquery", methods=["GET", "POST"])
def orderquery():
    return _endpoint(_orderquery)


@bp.route("/pay/closeorder", methods=["GET", "POST"])
def closeorder():
    return _endpoint(_closeorder)


def _unifiedorder(fields, state):
    order = _validate_order(fields)
    with state.lock:
        existing = state.orders.get(order["out_trade_no"])
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
        answer_fields["mweb_url"] = (
            "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=" + order["prepay_id"]
        )
    return answer_fields


def _orderquery(fields, state):
    if not (fields.get("transaction_id") or fields.get("out_trade_no")):
        raise BusinessError("LACK_PARAMS", "缺少参数transaction_id或out_trade_no")
    with state.lock:
        order = state.order_by_reference(fields)
        if order is None or order["api_version"] != "v2":
            raise BusinessError("ORDERNOTEXIST", "此交易订单号不存在")
        return transaction_fields(order, with_state=True)


def _closeorder(fields, state):
    if not fields.get("out_trade_no"):
        raise BusinessError("LACK_PARAMS", "缺少参数out_trade_no")
    with state.lock:
        order = state.orders.get(fields["out_trade_no"])
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
        "openid": order["payer"]["openid"],
        "is_subscribe": "N",
        "trade_type": order["trade_type"],
        "total_fee": order["amount"]["total"],
        "fee_type": "CNY",
    }
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
    parts = urlsplit(notify_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise BusinessError("INVALID_REQUEST", "notify_url参数格式错误，不能携带参数")
    if trade_type not in TRADE_TYPES:
        raise BusinessError("INVALID_REQUEST", "trade_type参数格式错误")
    openid = text("openid", 128, required=trade_type == "JSAPI")
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

    return {
        "api_version": "v2",
        "trade_type": trade_type,
        "appid": fields["appid"],
        "mchid": fields["mch_id"],
        "description": body,
        "out_trade_no": out_trade_no,
        "attach": attach,
        "notify_url": notify_url,
        "amount": {"total": int(total_fee), "currency": "CNY"},
        "payer": {"openid": openid},
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


def _beijing_time(value, name):
    try:
        if len(value) != 14 or not ASCII_DIGITS.fullmatch(value):
            raise ValueError
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp()
    except ValueError:
        raise BusinessError("INVALID_REQUEST", f"{name}参数格式错误") from None


# --- the payment notification -------------------------------------------------------------------


def notify_v2(state, order):
    """Send the v2 payment notification of a paid order (protocol B5); returns its event id.

    Signed with the merchant key and the order's sign type; acknowledged only by a reply whose
    ``return_code`` is exactly SUCCESS, retried on WeChat's schedule otherwise.
    """
    config = state.config
    fields = {
        "appid": config.appid,
        "mch_id": config.mchid,
        "nonce_str": nonce(32),
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        **transaction_fields(order, with_state=False),
    }
    if order["sign_type"] != MD5:
        fields["sign_type"] = order["sign_type"]
    fields["sign"] = v2_sign(fields, _api_key(state), order["sign_type"])
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


def acknowledged(response):
    """WeChat v2 reads only the reply body: return_code must be exactly SUCCESS."""
    try:
        return from_xml(response.content).get("return_code") == "SUCCESS"
    except ValueError:
        return False


def _tamper(body):
    """The signed notification with total_fee changed and the old sign kept."""
    fields = from_xml(body)
    fields["total_fee"] = str(int(fields["total_fee"]) + 1)
    return to_xml(fields)

"""WeChat Pay API v3 as api.mch.weixin.qq.com serves it (protocol C1-C8).

Every request must carry a valid merchant ``Authorization`` (401 SIGN_ERROR otherwise); every
answer to a verified request, 204 and errors included, is signed with the key the merchant's
key mode picks
(``SandboxConfig.response_signer``): the WeChat Pay public key for a merchant created today,
the platform certificate for an older one, and while migrating the public key only when the
request named its ``PUB_KEY_ID_...`` in ``Wechatpay-Serial``.
"""

import json
import re
import time
import uuid
from datetime import datetime
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, current_app, g, request

from server.wechatpay.crypto import (
    aes_gcm_encrypt,
    nonce,
    parse_v3_authorization,
    rsa_verify,
    v3_request_message,
)

from .state import DEFAULT_ORDER_LIFETIME, PAID_STATES
from .wire import json_bytes, json_response, rfc3339, signed_headers

TIMESTAMP_TOLERANCE = 300
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
TRADE_TYPES = {"jsapi": "JSAPI", "app": "APP", "h5": "MWEB", "native": "NATIVE"}
TRADE_STATE_DESC = {
    "SUCCESS": "支付成功",
    "NOTPAY": "订单未支付",
    "CLOSED": "订单已关闭",
    "REFUND": "订单发生过退款",
}
NO_PLATFORM_CERTIFICATE = (
    "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。可查看指引"
    "https://pay.weixin.qq.com/docs/merchant/products/platform-certificate/"
    "wxp-pub-key-guide.html"
)


class ApiError(Exception):
    """A v3 error answer: ``{"code", "message", "detail"?}`` with an HTTP status."""

    def __init__(self, status, code, message, detail=None):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


def param_error(field, issue, value=None):
    detail = {"field": field, "location": "body", "issue": issue}
    if value is not None:
        detail["value"] = value
    return ApiError(400, "PARAM_ERROR", f"参数错误: {field} {issue}", detail)


def api_error(error):
    body = {"code": error.code, "message": error.message}
    if error.detail:
        body["detail"] = error.detail
    return json_response(body, error.status)


def _state():
    return current_app.extensions["sandbox"]


# --- merchant signature in, platform signature out ----------------------------------------------


def canonical_url(environ):
    """The path and query exactly as the client sent them (protocol F1).

    werkzeug and gunicorn keep the raw request target in RAW_URI / REQUEST_URI; request.path
    is percent-decoded and request.full_path adds a stray "?", so neither will do.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if not raw.startswith("/"):  # absolute form: http://host/path?query
            parts = urlsplit(raw)
            raw = parts.path + (f"?{parts.query}" if parts.query else "")
        return raw
    path = quote((environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1"))
    query = environ.get("QUERY_STRING", "")
    return path + (f"?{query}" if query else "")


def sign_error(issue, url=None, message=b""):
    detail = {"field": "signature", "location": "authorization", "detail": {"issue": issue}}
    if url is not None:
        detail["sign_information"] = {
            "method": request.method,
            "url": url,
            "sign_message_length": len(message),
            "truncated_sign_message": message[:100].decode(errors="replace"),
        }
    return ApiError(401, "SIGN_ERROR", "签名错误，请检查后再试", detail)


def verify_merchant_signature():
    config = _state().config
    try:
        auth = parse_v3_authorization(request.headers.get("Authorization"))
    except ValueError as exc:
        raise sign_error(f"Authorization: {exc}") from None
    if auth["mchid"] != config.mchid:
        raise sign_error("mchid does not match the merchant")
    if auth["serial_no"].upper() != config.merchant_serial:
        raise sign_error("serial_no is not the merchant's API certificate")
    try:
        timestamp = int(auth["timestamp"])
    except ValueError:
        raise sign_error("timestamp is not a number") from None
    if abs(time.time() - timestamp) > TIMESTAMP_TOLERANCE:
        raise sign_error("timestamp expired")
    url = canonical_url(request.environ)
    message = v3_request_message(
        request.method, url, auth["timestamp"], auth["nonce_str"], request.get_data(cache=True)
    )
    if not rsa_verify(config.merchant_public_key, message, auth["signature"]):
        raise sign_error("sign not match", url, message)
    g.merchant_verified = True


def sign_response(response):
    # WeChat signs its answer whenever the merchant's signature verified, error answers
    # included (a 401 SIGN_ERROR is not signed); injected 2xx fault bodies are signed too.
    signed = 200 <= response.status_code < 300 or g.get("merchant_verified")
    if signed and not g.get("unsigned"):
        signer = _state().config.response_signer(request.headers.get("Wechatpay-Serial"))
        response.headers.update(signed_headers(signer, response.get_data()))
    return response


def blueprint(name, import_name):
    """A blueprint for v3 endpoints: every route on it checks the merchant's signature, has its
    answer signed, and turns an ``ApiError`` into WeChat's JSON error."""
    bp = Blueprint(name, import_name)
    bp.before_request(verify_merchant_signature)
    bp.after_request(sign_response)
    bp.register_error_handler(ApiError, api_error)
    return bp


def fault_answer(fault):
    """An armed API fault's answer on a /v3 path: WeChat's ``{"code", "message"}``."""
    code = fault.get("code") or "SYSTEM_ERROR"
    message = fault.get("message") or "系统错误"
    return json_response({"code": code, "message": message}, fault["status"])


# --- endpoints -------------------------------------------------------------------------------

bp = blueprint("v3", __name__)


@bp.get("/v3/certificates")
def certificates():
    from cryptography import x509

    state = _state()
    if state.config.platform is None:
        # What WeChat answers a merchant that has only a WeChat Pay public key (seen in SDK
        # trackers since late 2024, e.g. wechatpay-java#306, jeepay#73).
        raise ApiError(404, "RESOURCE_NOT_EXISTS", NO_PLATFORM_CERTIFICATE)
    data = []
    for pem in [state.config.platform_cert_pem, *state.retired_platform_certs]:
        cert = x509.load_pem_x509_certificate(pem.encode())
        nonce_str = nonce(12)
        data.append(
            {
                "serial_no": format(cert.serial_number, "X"),
                "effective_time": rfc3339(cert.not_valid_before_utc.timestamp()),
                "expire_time": rfc3339(cert.not_valid_after_utc.timestamp()),
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce_str,
                    "associated_data": "certificate",
                    "ciphertext": aes_gcm_encrypt(
                        state.config.apiv3_key, nonce_str, pem, "certificate"
                    ),
                },
            }
        )
    return json_response({"data": data})


@bp.post("/v3/pay/transactions/<kind>")
def place_order(kind):
    if kind not in TRADE_TYPES:
        raise ApiError(404, "NOT_FOUND", "请求的资源不存在")
    state, config = _state(), _state().config
    params = json_body()
    order = _validate_order(params, kind, config)
    with state.lock:
        existing = state.orders.get(order["out_trade_no"])
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
        return {
            "h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id="
            + order["prepay_id"]
            + "&package="
            + order["prepay_id"][-10:]
        }
    return {"prepay_id": order["prepay_id"]}


@bp.get("/v3/pay/transactions/out-trade-no/<out_trade_no>")
def query_by_out_trade_no(out_trade_no):
    _require_mchid(request.args.get("mchid"), "query")
    with _state().lock:
        order = _state().orders.get(out_trade_no)
        if order is None or order["api_version"] != "v3":
            raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        return json_response(transaction_view(order))


@bp.get("/v3/pay/transactions/id/<transaction_id>")
def query_by_transaction_id(transaction_id):
    _require_mchid(request.args.get("mchid"), "query")
    with _state().lock:
        order = _state().order_by_transaction(transaction_id)
        if order is None or order["api_version"] != "v3":
            raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        return json_response(transaction_view(order))


@bp.post("/v3/pay/transactions/out-trade-no/<out_trade_no>/close")
def close_order(out_trade_no):
    params = json_body()
    _require_mchid(params.get("mchid"), "body")
    state = _state()
    with state.lock:
        order = state.orders.get(out_trade_no)
        if order is None or order["api_version"] != "v3":
            raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        if order["trade_state"] in PAID_STATES:
            raise ApiError(400, "ORDERPAID", "该订单已支付")
        order["trade_state"] = "CLOSED"
    return Response(status=204)


def transaction_view(order):
    """The transaction object of a query answer and of the decrypted notification (C6)."""
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


def notify_v3(state, order):
    """Send TRANSACTION.SUCCESS for a paid v3 order (protocol C6); returns the event id."""
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


def json_body():
    try:
        params = json.loads(request.get_data(cache=True) or b"{}")
    except ValueError:
        raise ApiError(400, "PARAM_ERROR", "请求体不是合法的JSON") from None
    if not isinstance(params, dict):
        raise ApiError(400, "PARAM_ERROR", "请求体应为JSON对象")
    return params


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
            # WeChat accepts only characters of 1-3 UTF-8 bytes (protocol C1): no emoji.
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

    if appid != config.appid:
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


def valid_notify_url(url):
    # WeChat wants https; http is allowed here so that a local backend can be reached.
    parts = urlsplit(url) if isinstance(url, str) and len(url) <= 256 else None
    if (
        not parts
        or parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.query
        or parts.fragment
    ):
        raise param_error("/notify_url", "must be an http(s) URL without a query string", url)
    return url


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

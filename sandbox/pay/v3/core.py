"""What every WeChat Pay API v3 endpoint shares (docs/protocol.md C1-C8): the merchant's
signature in, WeChat's signature out, the error answer, the JSON body.

Every request must carry a valid merchant ``Authorization`` (401 SIGN_ERROR otherwise); every
answer to a verified request, 204 and errors included, is signed with the key the merchant's
key mode picks
(``SandboxConfig.response_signer``): the WeChat Pay public key for a merchant created today,
the platform certificate for an older one, and while migrating the public key only when the
request named its ``PUB_KEY_ID_...`` in ``Wechatpay-Serial``. An endpoint module gets all of
this by making its blueprint with ``blueprint()``.
"""

import json
import time
from urllib.parse import quote, urlsplit

from flask import Blueprint, current_app, g, request

from server.wechatpay.crypto import parse_v3_authorization, rsa_verify, v3_request_message

from ...wire import json_response, signed_headers
from ..checks import is_notify_url

TIMESTAMP_TOLERANCE = 300


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


def canonical_url(environ):
    """The path and query exactly as the client sent them (docs/protocol.md F1).

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
    g.mchid = auth["mchid"]  # the merchant the request speaks for


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


def json_body():
    try:
        params = json.loads(request.get_data(cache=True) or b"{}")
    except ValueError:
        raise ApiError(400, "PARAM_ERROR", "请求体不是合法的JSON") from None
    if not isinstance(params, dict):
        raise ApiError(400, "PARAM_ERROR", "请求体应为JSON对象")
    return params


def valid_notify_url(url):
    if not is_notify_url(url):
        raise param_error("/notify_url", "must be an http(s) URL without a query string", url)
    return url

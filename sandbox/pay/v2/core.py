"""What every WeChat Pay API v2 endpoint shares (docs/protocol.md B1-B5): XML in, XML out.

Every request is checked like WeChat does: well-formed ``<xml>`` (XML_FORMAT_ERROR), the
identity fields (LACK_PARAMS), then the merchant's ``sign`` with the API key and the request's
``sign_type`` (MD5 unless it says HMAC-SHA256); a failure at this layer is ``return_code=FAIL``
with a Chinese ``return_msg`` and no sign. Business answers are signed with the request's sign
type and carry ``result_code`` and, on failure, ``err_code``/``err_code_des``.

The XML is read with xmltodict (as wechatpy does), not with the backend's reader, so the two
sides of the tests do not share a parser. Every v2 endpoint is on a blueprint made by
``blueprint()`` and answers through ``endpoint()``.

Served over TLS (``python -m sandbox --tls-cert ... --tls-key ...``), ``/secapi/`` paths
require the merchant's API certificate (``WECHATPAY_CERT``) as the TLS client certificate.
"""

import xmltodict
from cryptography import x509
from flask import Blueprint, Response, current_app, g, request

from server.wechatpay.crypto import HMAC_SHA256, MD5, nonce, v2_sign, v2_verify

MAX_REQUEST_BYTES = 64 * 1024


class ReturnFail(Exception):
    """The transport layer refuses the request: return_code=FAIL, unsigned."""


class BusinessError(Exception):
    """result_code=FAIL with an err_code, signed like any business answer."""

    def __init__(self, err_code, err_code_des):
        super().__init__(err_code_des)
        self.err_code, self.err_code_des = err_code, err_code_des


def _state():
    return current_app.extensions["sandbox"]


def api_key(state):
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


def signed_request():
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
    if fields["appid"] not in _state().appids() and fields["appid"] not in config.sp_appids:
        raise ReturnFail("appid不存在")
    g.v2_appid = fields["appid"]  # the answer names the appid it was asked for
    if fields["mch_id"] != config.mchid:
        raise ReturnFail("商户号mch_id与appid不匹配")
    if len(fields["nonce_str"]) > 32:
        raise ReturnFail("nonce_str参数长度有误")
    sign_type = fields.get("sign_type") or MD5
    if sign_type not in (MD5, HMAC_SHA256):
        raise ReturnFail("sign_type参数格式错误")
    if not v2_verify(fields, api_key(_state()), sign_type):
        raise ReturnFail("签名错误")
    return fields, sign_type


def merchant(fields):
    """Whose orders a request is about: the sub-merchant ``sub_mch_id`` names (a service
    provider's request, docs/provider.md: bound to the provider, and ``sub_appid`` bound to
    it), or the merchant ``mch_id``."""
    sub_mchid = fields.get("sub_mch_id")
    if not sub_mchid:
        return fields["mch_id"]
    bound = (_state().config.sub_merchants or {}).get(sub_mchid)
    if bound is None:
        raise BusinessError("SUB_MCH_NOT_EXIST", "特约商户号不存在或与服务商无受理关系")
    if fields.get("sub_appid") and fields["sub_appid"] not in bound:
        raise BusinessError("APPID_MCHID_NOT_MATCH", "sub_appid和sub_mch_id不匹配")
    return sub_mchid


def answer(sign_type, data=None, error=None, echo=None):
    """A signed business answer: result_code SUCCESS with ``data``, or FAIL with ``error``;
    ``echo``: the request's ids it repeats."""
    config = _state().config
    body = {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": g.get("v2_appid", config.appid),
        "mch_id": config.mchid,
        "nonce_str": nonce(16),
        **(echo or {}),
    }
    if error is None:
        body["result_code"] = "SUCCESS"
        body.update(data or {})
    else:
        body.update(result_code="FAIL", err_code=error.err_code, err_code_des=error.err_code_des)
    body["sign"] = v2_sign(body, api_key(_state()), sign_type)
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


def endpoint(handler):
    """Verify the request, run ``handler(fields, state)``, and sign whatever it answers."""
    fields, sign_type = signed_request()
    # WeChat answers with the appid asked about (a provider's may be any bound to it), and a
    # provider's request's sub-merchant ids.
    echo = {"appid": fields["appid"]}
    echo.update({k: fields[k] for k in ("sub_mch_id", "sub_appid") if fields.get(k)})
    try:
        return answer(sign_type, data=handler(fields, _state()), echo=echo)
    except BusinessError as error:
        return answer(sign_type, error=error, echo=echo)


def acknowledged(response):
    """WeChat v2 reads only the reply body: return_code must be exactly SUCCESS."""
    try:
        return from_xml(response.content).get("return_code") == "SUCCESS"
    except ValueError:
        return False

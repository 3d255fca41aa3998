"""The v2 client core: every product's requests go through ``V2Client``.

Every answer from WeChat is checked in the same order: bounded size and safe XML (no DTD, no
entities), ``return_code`` (transport layer), the response ``sign`` (constant-time), then
``result_code`` / ``err_code`` (business layer). Anything that fails a check is an error, never
a silent success.
"""

import logging
import ssl

import requests
from requests.adapters import HTTPAdapter

from .. import crypto
from ..core.errors import ApiError, InvalidResponse, TransportError, WeChatPayError
from ..core.http import new_http_session, send_with_failover
from ..core.types import SUCCESS, Reply
from .messages import XmlError, dict_to_xml, xml_to_dict

# One logger for the whole API version, named as before v2 became a package.
log = logging.getLogger(__package__)

SIGN_TYPES = (crypto.MD5, crypto.HMAC_SHA256)
MAX_RESPONSE_BYTES = 256 * 1024
MAX_NOTIFICATION_BYTES = 64 * 1024
# err_code values WeChat documents as "try again with the same parameters" (for a refund:
# with the same out_refund_no, which WeChat answers with the same refund). The last two are
# "slow down": too many requests, or too many invalid ones (blocked for about a minute).
RETRYABLE_CODES = {
    "SYSTEMERROR",
    "BIZERR_NEED_RETRY",
    "BANKERROR",
    "FREQUENCY_LIMITED",
    "INVALID_REQ_TOO_MUCH",
}
# The one table of v2 err_codes that the rest of the app sees under their v3 names, so the
# domain checks one spelling whatever the API version. Codes not listed are spelled the same
# in both versions (TRADE_OVERDUE, USER_ACCOUNT_ABNORMAL, PARAM_ERROR, INVALID_REQUEST...) or
# exist only in v2 (REFUND_FEE_MISMATCH, BIZERR_NEED_RETRY, ERROR) and pass through as sent.
CODE_ALIASES = {
    "ORDERNOTEXIST": "ORDER_NOT_EXIST",  # v3: ORDER_NOT_EXIST
    "SYSTEMERROR": "SYSTEM_ERROR",  # v3: SYSTEM_ERROR
    "NOTENOUGH": "NOT_ENOUGH",  # the merchant's refundable balance is short
    "REFUNDNOTEXIST": "RESOURCE_NOT_EXISTS",  # v3 answers 404 RESOURCE_NOT_EXISTS
}
# Calls that move money: sent to the backup domain only when the primary never got them.
UNREPEATABLE = {"/pay/unifiedorder", "/secapi/pay/refund", "/pay/micropay"}
# return_code=FAIL carries only a Chinese return_msg; name the common ones with their err_code.
RETURN_FAIL_CODES = {
    "签名错误": "SIGNERROR",
    "XML格式错误": "XML_FORMAT_ERROR",
    "缺少参数": "LACK_PARAMS",
    "appid不存在": "APPID_NOT_EXIST",
    "商户号不存在": "MCHID_NOT_EXIST",
    "编码格式错误": "NOT_UTF8",
    "系统繁忙": "SYSTEMERROR",
    "系统错误": "SYSTEMERROR",
}


class _ClientCertAdapter(HTTPAdapter):
    """Every connection presents the merchant's API certificate, from one SSL context."""

    def __init__(self, ssl_context, **kwargs):
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self._ssl_context
        return super().init_poolmanager(*args, **kwargs)


def client_cert_session(cert_path, key_path, ca_bundle=None):
    """The HTTP session for ``/secapi/`` calls: mutual TLS with the merchant's API certificate.

    The certificate (apiclient_cert.pem) and its key (apiclient_key.pem) are read once, here:
    ``ssl`` refuses a key that does not match the certificate, or one with a passphrase, with
    ``ssl.SSLError`` / ``OSError``, so a wrong pair stops the app at start-up rather than at the
    first refund. ``ca_bundle`` replaces the system's trusted CAs (a local simulator's CA).
    """
    context = ssl.create_default_context(cafile=ca_bundle)
    context.load_cert_chain(cert_path, key_path, password=_no_passphrase)
    session = new_http_session()
    retries = session.get_adapter("https://").max_retries  # the same policy as every call
    session.mount("https://", _ClientCertAdapter(context, max_retries=retries, pool_maxsize=16))
    return session


def _no_passphrase():
    # Called only for an encrypted key: refuse instead of prompting on the terminal.
    raise ValueError("the API client key must not have a passphrase")


class V2Client:
    """Signed XML requests and checked answers for one v2 merchant."""

    api_version = "v2"

    def __init__(
        self,
        *,
        appid,
        mchid,
        api_key,
        sign_type=crypto.MD5,
        api_base="https://api.mch.weixin.qq.com",
        session=None,
        timeout=10.0,
        backup_base=None,
        cert_session=None,
    ):
        """``cert_session`` (from ``client_cert_session``) carries the ``/secapi/`` calls
        (refunds); without it a refund is refused locally with CLIENT_CERT_NOT_CONFIGURED."""
        if sign_type not in SIGN_TYPES:
            raise ValueError("sign_type must be MD5 or HMAC-SHA256")
        if not api_key:
            raise ValueError("the v2 API key is required")
        self.appid = appid
        self.mchid = mchid
        self.api_key = api_key
        self.sign_type = sign_type
        self.api_base = api_base.rstrip("/")
        self.api_bases = [self.api_base] + ([backup_base.rstrip("/")] if backup_base else [])
        self.session = session or requests.Session()
        self.cert_session = cert_session
        self.refund_key = crypto.v2_refund_key(api_key)
        self.timeout = (min(3.0, timeout), timeout)  # (connect, read)
        self.retry_queries = True  # core.http.with_budget turns it off

    def notification_reply(self, ok, message=""):
        """v2 reads only the body: SUCCESS acknowledges, anything else makes WeChat retry.

        A refusal also gets HTTP 400, like the v3 reply, so access logs and monitoring show it;
        WeChat treats it as a failure either way.
        """
        if ok:
            return Reply(
                dict_to_xml({"return_code": "SUCCESS", "return_msg": "OK"}), 200, "application/xml"
            )
        body = dict_to_xml({"return_code": "FAIL", "return_msg": (message or "FAIL")[:128]})
        return Reply(body, 400, "application/xml")

    def _signed(self, fields, sign_type=None):
        """The request fields with appid, mch_id, nonce and sign (``sign_type``: the merchant's
        unless an endpoint demands one)."""
        sign_type = sign_type or self.sign_type
        request = {"appid": self.appid, "mch_id": self.mchid, "nonce_str": crypto.nonce(), **fields}
        if sign_type != crypto.MD5:  # MD5 is the default when sign_type is absent
            request["sign_type"] = sign_type
        request["sign"] = crypto.v2_sign(request, self.api_key, sign_type)
        return request

    def _call(self, path, fields, retry, session=None):
        """POST one signed request; return the checked fields of a SUCCESS/SUCCESS answer.

        ``retry`` allows one more attempt after a connection failure or timeout; only for
        queries, which change nothing. ``session``: the mutual-TLS one for /secapi/ calls.
        """
        body = dict_to_xml(self._signed(fields))
        attempts = 2 if retry else 1
        for attempt in range(attempts):
            try:
                raw, request_id = self._post(path, body, session or self.session)
                break
            except TransportError:
                if attempt + 1 == attempts:
                    raise
        try:
            return self._check(path, raw)
        except WeChatPayError as exc:
            exc.request_id = request_id
            raise

    def _post(self, path, body, session, max_bytes=MAX_RESPONSE_BYTES):
        try:
            with send_with_failover(
                session,
                "POST",
                self.api_bases,
                path,
                repeatable=path not in UNREPEATABLE,
                data=body,
                timeout=self.timeout,
                stream=True,
                headers={
                    "Content-Type": "text/xml; charset=utf-8",
                    "User-Agent": "wechatpay-miniprogram-starter/1.0",
                },
            ) as response:
                request_id = response.headers.get("Request-ID")
                # One line per call with WeChat's Request-ID: what WeChat's support asks for.
                log.info(
                    "WeChat Pay POST %s: HTTP %s (Request-ID %s)",
                    path,
                    response.status_code,
                    request_id or "-",
                )
                if not 200 <= response.status_code < 300:
                    raise TransportError(
                        f"WeChat Pay answered HTTP {response.status_code} on {path}",
                        request_id=request_id,
                    )
                raw = b""
                for chunk in response.iter_content(16 * 1024):
                    raw += chunk
                    if len(raw) > max_bytes:  # refused by the reader; stop reading
                        break
        except requests.Timeout:
            raise TransportError(f"WeChat Pay timed out on {path}") from None
        except requests.RequestException as exc:
            raise TransportError(
                f"WeChat Pay unreachable on {path}: {type(exc).__name__}"
            ) from None
        return raw, request_id

    def _check(self, path, raw):
        try:
            data = xml_to_dict(raw, MAX_RESPONSE_BYTES)
        except XmlError as exc:
            raise InvalidResponse(f"{path} answer is not v2 XML: {exc}") from None
        return_code = data.get("return_code") or data.get("retcode")
        if return_code != SUCCESS:
            if return_code is None:
                raise InvalidResponse(f"{path} answer has no return_code")
            message = data.get("return_msg") or data.get("retmsg") or "FAIL"
            code = data.get("err_code") or next(
                (code for text, code in RETURN_FAIL_CODES.items() if text in message), "RETURN_FAIL"
            )
            raise ApiError(CODE_ALIASES.get(code, code), message, retryable=code in RETRYABLE_CODES)
        # WeChat signs its answer with the sign type of our request.
        if not crypto.v2_verify(data, self.api_key, self.sign_type):
            raise InvalidResponse(f"{path} answer sign does not verify")
        if (
            data.get("appid", self.appid) != self.appid
            or data.get("mch_id", self.mchid) != self.mchid
        ):
            raise InvalidResponse(f"{path} answer is for another merchant")
        result_code = data.get("result_code")
        if result_code == SUCCESS:
            return data
        if result_code != "FAIL":
            raise InvalidResponse(f"{path} answer has no result_code")
        code = data.get("err_code") or "FAIL"
        raise ApiError(
            CODE_ALIASES.get(code, code),
            data.get("err_code_des") or code,
            retryable=code in RETRYABLE_CODES,
        )

"""WeChat Pay API v2: XML requests and responses signed with the merchant's API key.

For legacy merchants; v3 is the default. ``V2Gateway`` answers in the same gateway data classes
as v3, so the rest of the backend never branches on the version. No Flask and no database here.

Every answer from WeChat is checked in the same order: bounded size and safe XML (no DTD, no
entities), ``return_code`` (transport layer), the response ``sign`` (constant-time), then
``result_code`` / ``err_code`` (business layer). Anything that fails a check is an error, never
a silent success.
"""

import gzip
import ipaddress
import logging
import re
import ssl
from datetime import datetime
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

import requests
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from requests.adapters import HTTPAdapter

from . import checks, crypto
from .core.errors import (
    ApiError,
    BillNotReady,
    InvalidResponse,
    NotificationError,
    TransportError,
    WeChatPayError,
)
from .core.http import new_http_session, send_with_failover
from .core.types import (
    CHINA,
    OUT_REFUND_NO,
    PAYERROR,
    REFUND_ABNORMAL,
    REFUND_CLOSED,
    REFUND_PROCESSING,
    REFUND_SUCCESS,
    SUCCESS,
    Notification,
    RefundNotification,
    RefundResult,
    Reply,
    Transaction,
)

log = logging.getLogger(__name__)

SIGN_TYPES = (crypto.MD5, crypto.HMAC_SHA256)
V2_TIME_FORMAT = "%Y%m%d%H%M%S"  # time_expire, time_end: Beijing time
MAX_RESPONSE_BYTES = 256 * 1024
MAX_NOTIFICATION_BYTES = 64 * 1024
MAX_BILL_BYTES = 64 * 1024 * 1024
# downloadbill answers these (in return_msg) instead of a bill: none that day / not made yet.
NO_BILL_MESSAGES = ("No Bill Exist",)
BILL_NOT_READY_MESSAGES = ("Bill Creating",)
MAX_BODY_CHARS = 127
MAX_ATTACH_CHARS = 127
MAX_NOTIFY_URL_CHARS = 256
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
# v2 refund_status (query: refund_status_$n; notification: refund_status) -> the v3 status.
# CHANGE means the money could not reach the user (closed card...): v3's ABNORMAL.
REFUND_STATUSES = {
    "PROCESSING": REFUND_PROCESSING,
    "SUCCESS": REFUND_SUCCESS,
    "REFUNDCLOSE": REFUND_CLOSED,
    "CHANGE": REFUND_ABNORMAL,
}
REFUND_SUCCESS_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # success_time, refund_success_time_$n
MAX_REFUND_DESC_CHARS = 80
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


# The encoding an XML declaration names, if any (the declaration is ASCII in every encoding
# expat reads; UTF-16 would start with a BOM and fail as not well-formed).
XML_DECLARED_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")


class XmlError(ValueError):
    """A body that is not a flat, well-formed ``<xml>...</xml>`` document."""


def xml_to_dict(data, max_bytes, root_tag="xml"):
    """The fields of a flat v2 XML document, refusing anything unusual.

    DTDs and entity declarations are refused outright (billion laughs, external entities), as
    are nested elements and repeated field names: a signature must cover exactly what we read.
    ``root_tag`` is ``xml`` except in a refund notification's decrypted ``req_info`` (``root``).
    """
    if not isinstance(data, (bytes, bytearray)) or len(data) > max_bytes:
        raise XmlError("body missing or too large")
    # WeChat writes UTF-8 only. Another declared encoding is refused before parsing: expat
    # raises ValueError for multi-byte ones (GBK, Shift_JIS) and LookupError for unknown names.
    declared = XML_DECLARED_ENCODING.match(bytes(data))
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise XmlError("the XML declaration names an encoding other than UTF-8")
    try:
        root = fromstring(bytes(data), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise XmlError(f"not well-formed XML: {type(exc).__name__}") from None
    if root.tag != root_tag:
        raise XmlError(f"root element is not <{root_tag}>")
    fields = {}
    for child in root:
        if not isinstance(child.tag, str) or len(child) or child.tag in fields:
            raise XmlError("nested or repeated element")
        fields[child.tag] = child.text or ""
    return fields


def dict_to_xml(fields):
    """``<xml>`` with every value in CDATA (integers bare), as WeChat and the SDKs write it."""
    parts = ["<xml>"]
    for name, value in fields.items():
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        else:  # "]]>" cannot appear inside CDATA: close and reopen around it
            text = "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"
        parts.append(f"<{name}>{text}</{name}>")
    parts.append("</xml>")
    return "".join(parts).encode()


def parse_time(value):
    """``yyyyMMddHHmmss`` Beijing time -> aware datetime; None for an empty value."""
    if not value:
        return None
    if len(value) != 14 or not checks.is_ascii_number(value):
        raise ValueError(f"not a yyyyMMddHHmmss time: {value[:20]!r}")
    return datetime.strptime(value, V2_TIME_FORMAT).replace(tzinfo=CHINA)


def format_time(moment):
    if moment.tzinfo is None:
        raise ValueError("time_expire must be timezone-aware")
    return moment.astimezone(CHINA).strftime(V2_TIME_FORMAT)


def check_notify_url(url):
    """WeChat refuses (or silently mangles) notify URLs with a query string or fragment."""
    parts = urlsplit(url or "")
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
        or parts.fragment
        or "?" in url
        or len(url) > MAX_NOTIFY_URL_CHARS
    ):
        raise ValueError(
            "notify_url must be an http(s) URL of at most 256 characters with no query string"
        )
    return url


def _fen(value, name="total_fee"):
    # ASCII digits only: int() would also read "１００" (full-width) as 100.
    if not checks.is_ascii_number(value) or len(value) > 9:
        raise ValueError(f"{name} is not a whole number of fen")
    return int(value)


def parse_refund_time(value):
    """A refund's ``yyyy-MM-dd HH:mm:ss`` Beijing time -> aware datetime; None when empty."""
    if not value:
        return None
    return datetime.strptime(value, REFUND_SUCCESS_TIME_FORMAT).replace(tzinfo=CHINA)


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


class V2Gateway:
    """The Gateway protocol over API v2 (direct merchant, JSAPI / mini program)."""

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

    # --- the Gateway protocol ---------------------------------------------------------------

    def place_order(self, request):
        if (
            isinstance(request.total, bool)
            or not isinstance(request.total, int)
            or request.total <= 0
        ):
            raise ValueError("total must be a positive integer of fen")
        if request.attach and len(request.attach) > MAX_ATTACH_CHARS:
            raise ValueError("attach is longer than 127 characters")
        fields = {
            # WeChat allows 127 characters; the description is for display, so shorten it.
            "body": request.description[:MAX_BODY_CHARS],
            "out_trade_no": request.out_trade_no,
            "total_fee": request.total,
            "spbill_create_ip": _client_ip(request.client_ip),
            "notify_url": check_notify_url(request.notify_url),
            "trade_type": "JSAPI",
            "openid": request.openid,
            "time_expire": format_time(request.time_expire),
        }
        if request.attach:
            fields["attach"] = request.attach
        # Not retried: a lost answer is recovered by the caller (query, or /pay again).
        data = self._call("/pay/unifiedorder", fields, retry=False)
        prepay_id = data.get("prepay_id")
        if not prepay_id:
            raise InvalidResponse("unifiedorder answer has no prepay_id")
        return prepay_id

    def pay_params(self, prepay_id):
        params = {
            "timeStamp": str(crypto.now()),
            "nonceStr": crypto.nonce(),
            "package": f"prepay_id={prepay_id}",
            "signType": self.sign_type,
        }
        # v2 paySign covers appId too, although wx.requestPayment is not given it.
        params["paySign"] = crypto.v2_sign(
            {"appId": self.appid, **params}, self.api_key, self.sign_type
        )
        return params

    def query_order(self, out_trade_no):
        data = self._call(
            "/pay/orderquery", {"out_trade_no": out_trade_no}, retry=self.retry_queries
        )
        if data.get("out_trade_no") != out_trade_no or not data.get("trade_state"):
            raise InvalidResponse("orderquery answered about another order, or without state")
        try:
            return self._transaction(data, data["trade_state"])
        except ValueError as exc:
            raise InvalidResponse(f"orderquery answer is malformed: {exc}") from None

    def close_order(self, out_trade_no):
        try:
            self._call("/pay/closeorder", {"out_trade_no": out_trade_no}, retry=False)
        except ApiError as exc:
            if exc.code != "ORDERCLOSED":  # already closed is what we wanted
                raise

    def parse_payment_notification(self, headers, body):
        """Verify a v2 payment notification (``headers`` are unused: v2 signs the body)."""
        try:
            fields = xml_to_dict(body, MAX_NOTIFICATION_BYTES)
        except XmlError as exc:
            raise NotificationError(f"notification is not v2 XML: {exc}", "MALFORMED") from None
        # The (signed) sign_type field when present. Without it, the configured type, then
        # MD5: some notifications are MD5-signed even for HMAC merchants (protocol B5). Every
        # candidate needs the API key, so this is no downgrade to an unsigned message.
        declared = fields.get("sign_type")
        candidates = [declared] if declared else [self.sign_type, crypto.MD5]
        if not any(
            t in SIGN_TYPES and crypto.v2_verify(fields, self.api_key, t) for t in candidates
        ):
            raise NotificationError("notification sign does not verify", "SIGNATURE_INVALID")
        if fields.get("return_code") != SUCCESS:
            raise NotificationError("notification has return_code FAIL", "NOT_SUCCESS")
        if fields.get("appid") != self.appid or fields.get("mch_id") != self.mchid:
            raise NotificationError("appid or mch_id is not ours", "MERCHANT_MISMATCH")
        # A signed report of a failed payment changes nothing, but is acknowledged so that
        # WeChat stops resending it.
        paid = fields.get("result_code") == SUCCESS
        if not fields.get("out_trade_no") or (paid and not fields.get("transaction_id")):
            raise NotificationError(
                "notification lacks transaction_id or out_trade_no", "MALFORMED"
            )
        try:
            transaction = self._transaction(fields, SUCCESS if paid else PAYERROR)
            if transaction.total is None:
                raise ValueError("no total_fee")
            if fields.get("fee_type", "CNY") != "CNY":  # fen of another currency are not fen
                raise ValueError("fee_type is not CNY")
        except ValueError as exc:
            raise NotificationError(f"notification is malformed: {exc}", "MALFORMED") from None
        # v2 has no notification id; WeChat sends one success notification per transaction.
        return Notification(
            event_id=fields.get("transaction_id") or fields["out_trade_no"],
            event_type="TRANSACTION.SUCCESS" if paid else "TRANSACTION.FAIL",
            transaction=transaction,
            payload=fields,
        )

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

    # --- refunds -----------------------------------------------------------------------------

    def refund(self, request):
        """``POST /secapi/pay/refund`` over mutual TLS. WeChat's SUCCESS means accepted: the
        answer is PROCESSING, and the outcome comes by notification or query.

        Not resent here: the caller retries a TransportError or a ``retryable`` ApiError with
        the SAME out_refund_no, which WeChat answers with the same refund (never a second one).
        """
        if not OUT_REFUND_NO.fullmatch(request.out_refund_no or ""):
            raise ValueError("out_refund_no must be 1-64 characters of 0-9A-Za-z_-|*@")
        for value in (request.refund, request.total):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError("refund and total must be positive integers of fen")
        if request.refund > request.total:
            raise ValueError("refund exceeds the order's total")
        if self.cert_session is None:
            raise ApiError(
                "CLIENT_CERT_NOT_CONFIGURED",
                "v2 refunds need the merchant's API "
                "certificate: set WECHATPAY_CERT and WECHATPAY_PRIVATE_KEY",
            )
        fields = {
            "out_trade_no": request.out_trade_no,
            "out_refund_no": request.out_refund_no,
            "total_fee": request.total,
            "refund_fee": request.refund,
        }
        if request.reason:  # shown to the user; WeChat allows 80 characters
            fields["refund_desc"] = request.reason[:MAX_REFUND_DESC_CHARS]
        if request.notify_url:
            fields["notify_url"] = check_notify_url(request.notify_url)
        data = self._call("/secapi/pay/refund", fields, retry=False, session=self.cert_session)
        if data.get("out_refund_no") != request.out_refund_no:
            raise InvalidResponse("refund answer is about another refund")
        try:
            return RefundResult(
                out_refund_no=request.out_refund_no,
                status=REFUND_PROCESSING,
                refund=_fen(data.get("refund_fee"), "refund_fee"),
                total=_fen(data.get("total_fee"), "total_fee"),
                out_trade_no=data.get("out_trade_no") or None,
                refund_id=data.get("refund_id") or None,
                transaction_id=data.get("transaction_id") or None,
                channel=data.get("refund_channel") or None,
            )
        except ValueError as exc:
            raise InvalidResponse(f"refund answer is malformed: {exc}") from None

    def query_refund(self, out_refund_no):
        """``POST /pay/refundquery`` by out_refund_no: WeChat answers the refund as index 0
        of its ``_$n`` fields. ApiError RESOURCE_NOT_EXISTS (v2 REFUNDNOTEXIST) if unknown."""
        data = self._call("/pay/refundquery", {"out_refund_no": out_refund_no}, retry=True)
        index = next(
            (
                n
                for n in range(_refund_count(data))
                if data.get(f"out_refund_no_{n}") == out_refund_no
            ),
            None,
        )
        if index is None:
            raise InvalidResponse("refundquery answer does not list the refund asked about")
        try:
            return self._refund_result(
                {
                    name: data.get(f"{name}_{index}")
                    for name in (
                        "out_refund_no",
                        "refund_id",
                        "refund_fee",
                        "refund_status",
                        "refund_channel",
                        "refund_recv_accout",
                    )
                },
                data,
                data.get(f"refund_success_time_{index}"),
            )
        except ValueError as exc:
            raise InvalidResponse(f"refundquery answer is malformed: {exc}") from None

    def parse_refund_notification(self, headers, body):
        """Decrypt a v2 refund notification (``headers`` are unused).

        It carries no sign: only its ``req_info``, AES-256-ECB under the MD5 of our API key,
        proves it comes from WeChat. So anything that does not decrypt to a well-formed refund
        is refused, and the unencrypted appid / mch_id must be ours too.
        """
        try:
            fields = xml_to_dict(body, MAX_NOTIFICATION_BYTES)
        except XmlError as exc:
            raise NotificationError(f"notification is not v2 XML: {exc}", "MALFORMED") from None
        if fields.get("return_code") != SUCCESS:
            raise NotificationError("notification has return_code FAIL", "NOT_SUCCESS")
        if fields.get("appid") != self.appid or fields.get("mch_id") != self.mchid:
            raise NotificationError("appid or mch_id is not ours", "MERCHANT_MISMATCH")
        if not fields.get("req_info"):
            raise NotificationError("notification has no req_info", "MALFORMED")
        try:
            plaintext = crypto.aes_ecb_decrypt(self.refund_key, fields["req_info"])
        except crypto.DecryptionError:
            raise NotificationError("req_info does not decrypt", "DECRYPT_FAILED") from None
        try:
            info = xml_to_dict(plaintext, MAX_NOTIFICATION_BYTES, root_tag="root")
            if not info.get("out_refund_no") or not info.get("out_trade_no"):
                raise ValueError("no out_refund_no or out_trade_no")
            result = self._refund_result(info, info, info.get("success_time"))
            if result.status == REFUND_PROCESSING:
                raise ValueError("a notification reports a final state, not PROCESSING")
        except (XmlError, ValueError) as exc:
            raise NotificationError(f"req_info is malformed: {exc}", "MALFORMED") from None
        payload = {"appid": fields["appid"], "mch_id": fields["mch_id"], **info}
        # v2 has no notification id: a refund reaches each final state once.
        return RefundNotification(
            event_id=f"{result.out_refund_no}:{result.status}",
            event_type=f"REFUND.{result.status}",
            refund=result,
            payload=payload,
        )

    def _refund_result(self, refund, order, success_time):
        """RefundResult from one refund's fields (refund_status, refund_fee...) and the
        order's (total_fee, out_trade_no, transaction_id); ValueError when malformed."""
        status = REFUND_STATUSES.get(refund.get("refund_status"))
        if status is None:
            raise ValueError(f"unknown refund_status {str(refund.get('refund_status'))[:20]!r}")
        return RefundResult(
            out_refund_no=refund["out_refund_no"],
            status=status,
            refund=_fen(refund.get("refund_fee"), "refund_fee"),
            total=_fen(order.get("total_fee"), "total_fee"),
            out_trade_no=order.get("out_trade_no") or None,
            refund_id=refund.get("refund_id") or None,
            transaction_id=order.get("transaction_id") or None,
            channel=refund.get("refund_channel") or None,
            user_received_account=refund.get("refund_recv_accout") or None,  # sic: WeChat's
            success_time=parse_refund_time(success_time),
        )

    # --- bills (protocol B4) ------------------------------------------------------------------

    def download_trade_bill(self, day):
        """``/pay/downloadbill`` (ALL) of one Beijing day as bytes; None when WeChat has none.

        The bill itself is plain text (gzip here), not XML and not signed; only a refusal is
        XML. v2 gives no hash to check it against.
        """
        body = dict_to_xml(
            self._signed(
                {"bill_date": day.strftime("%Y%m%d"), "bill_type": "ALL", "tar_type": "GZIP"}
            )
        )
        return self._bill("/pay/downloadbill", body, self.session)

    def download_fund_flow_bill(self, day):
        """``/pay/downloadfundflow`` (the Basic account) of one Beijing day; None when WeChat
        has none. WeChat wants it signed with HMAC-SHA256 whatever the merchant's sign type,
        over mutual TLS with the merchant's API certificate."""
        if self.cert_session is None:
            raise ApiError(
                "CLIENT_CERT_NOT_CONFIGURED",
                "the fund flow bill needs the "
                "merchant's API certificate: set WECHATPAY_CERT and "
                "WECHATPAY_PRIVATE_KEY",
            )
        body = dict_to_xml(
            self._signed(
                {"bill_date": day.strftime("%Y%m%d"), "account_type": "Basic", "tar_type": "GZIP"},
                crypto.HMAC_SHA256,
            )
        )
        return self._bill("/pay/downloadfundflow", body, self.cert_session)

    def _bill(self, path, body, session):
        raw, _request_id = self._post(path, body, session, MAX_BILL_BYTES)
        if len(raw) > MAX_BILL_BYTES:
            raise InvalidResponse("bill larger than we accept")
        if raw[:2] == b"\x1f\x8b":
            try:
                return gzip.decompress(raw)
            except (OSError, EOFError):
                raise InvalidResponse("bill is not valid gzip") from None
        if raw.lstrip()[:5] != b"<xml>":
            return raw
        try:
            self._check(path, raw)
        except ApiError as exc:
            if any(text in exc.message for text in NO_BILL_MESSAGES):
                return None
            if any(text in exc.message for text in BILL_NOT_READY_MESSAGES):
                raise BillNotReady(exc.message) from None
            raise
        raise InvalidResponse(f"{path} answered XML without a bill")

    # --- helpers -----------------------------------------------------------------------------

    def _transaction(self, data, trade_state):
        """A Transaction from v2 fields; ValueError when a field has the wrong form or length
        (signed is not the same as well-formed)."""
        total = data.get("total_fee")
        return Transaction(
            out_trade_no=checks.text(data, "out_trade_no", checks.MAX_OUT_TRADE_NO, required=True),
            trade_state=checks.trade_state({"trade_state": trade_state}),
            appid=checks.text(data, "appid", checks.MAX_ID),
            mchid=checks.text(data, "mch_id", checks.MAX_ID),
            total=_fen(total) if total else None,
            transaction_id=checks.text(data, "transaction_id", checks.MAX_TRANSACTION_ID),
            openid=checks.text(data, "openid", checks.MAX_OPENID),
            success_time=parse_time(checks.text(data, "time_end", checks.MAX_TEXT)),
            trade_state_desc=checks.text(data, "trade_state_desc", checks.MAX_TEXT),
        )

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


def _refund_count(data):
    count = data.get("refund_count") or "0"
    if not count.isdigit():
        raise InvalidResponse("refundquery answer has no refund_count")
    return min(int(count), 50)  # WeChat allows 50 refunds per order


def _client_ip(value):
    """spbill_create_ip: the payer's IP as the backend saw it; WeChat requires a valid one."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return "127.0.0.1"

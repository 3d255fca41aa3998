"""WeChat Pay API v3: signed JSON requests, verified responses and notifications.

No Flask and no database here: ``V3Gateway`` takes plain values and parsed keys, so it can be
lifted into another project. Keys are parsed once by the caller and the HTTP session is shared,
so connections are reused across calls.
"""

import gzip
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from datetime import datetime
from urllib.parse import quote, urlencode, urlsplit

import requests

from . import checks, crypto
from .core.errors import (
    ApiError,
    BillHashMismatch,
    BillNotReady,
    InvalidResponse,
    Misconfigured,
    NotificationError,
    TransportError,
    WeChatPayError,
)
from .core.http import send_with_failover
from .core.types import (
    CHINA,
    Notification,
    RefundNotification,
    RefundResult,
    Reply,
    Transaction,
)

log = logging.getLogger(__name__)

TIMESTAMP_TOLERANCE = 300  # seconds; the official SDKs refuse |now - ts| >= 5 min
# WeChat documents these as "try again with the same parameters".
RETRYABLE_CODES = {
    "SYSTEM_ERROR",
    "SYSTEMERROR",
    "BANKERROR",
    "FREQUENCY_LIMITED",
    "RATELIMIT_EXCEEDED",
    "SERVICE_UNAVAILABLE",
    "BIZERR_NEED_RETRY",
}
# Newer and older spellings of the same error; the rest of the app sees the first.
CODE_ALIASES = {
    "ORDERNOTEXIST": "ORDER_NOT_EXIST",
    "ORDER_PAID": "ORDERPAID",
    "SYSTEMERROR": "SYSTEM_ERROR",
    "NOTENOUGH": "NOT_ENOUGH",
}
REFUNDS = "/v3/refund/domestic/refunds"
# "No bill for that day" is an answer, not a failure; "still being made" means later.
BILL_ABSENT_CODES = {"NO_STATEMENT_EXIST"}
BILL_NOT_READY_CODES = {"STATEMENT_CREATING"}


def verify_signed_message(headers, body, key_for_serial, now=None):
    """Check the ``Wechatpay-*`` signature of a response or notification over its raw body.

    ``key_for_serial(serial)`` returns the RSA public key for a ``Wechatpay-Serial`` value, or
    None. Raises NotificationError with a code saying what failed; returns the serial used.
    """
    timestamp = headers.get("Wechatpay-Timestamp", "")
    nonce_str = headers.get("Wechatpay-Nonce", "")
    signature = headers.get("Wechatpay-Signature", "")
    serial = headers.get("Wechatpay-Serial", "")
    if not (timestamp and nonce_str and signature and serial):
        raise NotificationError("missing Wechatpay signature headers", "MALFORMED")
    if signature.startswith(crypto.SIGNTEST_PREFIX):
        raise NotificationError("signature probe (WECHATPAY/SIGNTEST)", "SIGNATURE_PROBE")
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        raise NotificationError("Wechatpay-Timestamp is not a number", "MALFORMED")
    if abs((now or crypto.now()) - int(timestamp)) >= TIMESTAMP_TOLERANCE:
        raise NotificationError(
            "Wechatpay-Timestamp outside the 5-minute window", "TIMESTAMP_EXPIRED"
        )
    key = key_for_serial(serial)
    if key is None:
        hint = (
            " (a WeChat Pay public key: is WECHATPAY_PUBLIC_KEY_ID set to it?)"
            if serial.startswith("PUB_KEY_ID_")
            else ""
        )
        raise NotificationError(f"unknown Wechatpay-Serial {serial[:64]}{hint}", "UNKNOWN_SERIAL")
    if not crypto.rsa_verify(
        key, crypto.v3_response_message(timestamp, nonce_str, body), signature
    ):
        raise NotificationError("signature does not verify", "SIGNATURE_INVALID")
    return serial


class PlatformKeys:
    """WeChat Pay's verification keys, chosen by ``Wechatpay-Serial``.

    Public key mode: one key with id ``PUB_KEY_ID_...``. Certificate mode: platform certificates
    downloaded from ``/v3/certificates`` and refreshed when a serial we don't know shows up
    (at most once a minute, so forged serials cannot make us hammer the API). Both may be
    active at once while a merchant migrates.
    """

    REFRESH_INTERVAL = 60

    def __init__(self, public_key_id=None, public_key=None):
        self.public_key_id = public_key_id
        self.public_key = public_key
        self._certificates = {}
        self._fetch = None
        self._last_refresh = None
        self._lock = threading.Lock()

    def attach_downloader(self, fetch):
        """``fetch()`` returns {serial: public_key} of the current platform certificates."""
        self._fetch = fetch

    def __call__(self, serial):
        if self.public_key_id and serial == self.public_key_id:
            return self.public_key
        if serial.startswith("PUB_KEY_ID_"):
            return None  # not a certificate serial: downloading certificates cannot help
        if serial not in self._certificates:
            self._refresh_for(serial)
        return self._certificates.get(serial)

    def encryption_key(self):
        """(serial, public key) to encrypt sensitive fields for WeChat (protocol C10): the
        WeChat Pay public key when we have one, else a platform certificate."""
        if self.public_key_id and self.public_key is not None:
            return self.public_key_id, self.public_key
        if not self._certificates:
            self._refresh_for(None)
        if not self._certificates:
            raise TransportError("no WeChat Pay public key or platform certificate to encrypt with")
        serial = sorted(self._certificates)[-1]
        return serial, self._certificates[serial]

    def _refresh_for(self, serial):
        with self._lock:
            if serial in self._certificates:  # another thread fetched it while we waited
                return
            recent = (
                self._last_refresh is not None
                and time.monotonic() - self._last_refresh < self.REFRESH_INTERVAL
            )
            if not self._fetch or recent:
                return
            self._last_refresh = time.monotonic()
            try:
                self._certificates.update(self._fetch())
            except Exception:  # keep the keys we have; the next unknown serial tries again
                log.exception("downloading WeChat Pay platform certificates failed")


class V3Gateway:
    """The Gateway protocol over API v3 (direct merchant, JSAPI)."""

    api_version = "v3"

    def __init__(
        self,
        *,
        appid,
        mchid,
        serial_no,
        private_key,
        apiv3_key,
        api_base,
        platform_keys,
        session=None,
        timeout=10.0,
        backup_base=None,
    ):
        self.appid = appid
        self.mchid = mchid
        self.serial_no = serial_no
        self.private_key = private_key
        self.apiv3_key = apiv3_key.encode()
        self.api_base = api_base.rstrip("/")
        self.api_bases = [self.api_base] + ([backup_base.rstrip("/")] if backup_base else [])
        self.platform_keys = platform_keys
        self.session = session or requests.Session()
        self.timeout = (min(3.0, timeout), timeout)
        platform_keys.attach_downloader(self.download_certificates)

    # --- the Gateway protocol ---------------------------------------------------------------

    def place_order(self, request):
        body = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": request.description,
            "out_trade_no": request.out_trade_no,
            "time_expire": request.time_expire.astimezone(CHINA).isoformat(timespec="seconds"),
            "notify_url": request.notify_url,
            "amount": {"total": request.total, "currency": "CNY"},
            "payer": {"openid": request.openid},
        }
        if request.attach:
            body["attach"] = request.attach
        if request.client_ip:
            body["scene_info"] = {"payer_client_ip": request.client_ip}
        data = self._call("POST", "/v3/pay/transactions/jsapi", body, repeatable=False)
        prepay_id = (data or {}).get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise InvalidResponse("order response has no prepay_id")
        return prepay_id

    def pay_params(self, prepay_id):
        timestamp, nonce_str = str(crypto.now()), crypto.nonce()
        package = f"prepay_id={prepay_id}"
        return {
            "timeStamp": timestamp,
            "nonceStr": nonce_str,
            "package": package,
            "signType": "RSA",
            "paySign": crypto.v3_pay_sign(
                self.private_key, self.appid, timestamp, nonce_str, package
            ),
        }

    def query_order(self, out_trade_no):
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}"
        return parse_transaction(self._call("GET", path, query={"mchid": self.mchid}))

    def close_order(self, out_trade_no):
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        self._call("POST", path, {"mchid": self.mchid})

    def parse_payment_notification(self, headers, body):
        event_id, event_type, payload = self._open_notification(headers, body)
        try:
            transaction = parse_transaction(payload)
        except (ValueError, InvalidResponse) as exc:
            raise NotificationError(
                f"decrypted resource is not a transaction: {exc}", "MALFORMED"
            ) from None
        if transaction.appid != self.appid or transaction.mchid != self.mchid:
            raise NotificationError("appid or mchid is not ours", "MERCHANT_MISMATCH")
        return Notification(
            event_id=event_id, event_type=event_type, transaction=transaction, payload=payload
        )

    def refund(self, request):
        body = {
            "out_trade_no": request.out_trade_no,
            "out_refund_no": request.out_refund_no,
            "amount": {"refund": request.refund, "total": request.total, "currency": "CNY"},
        }
        if request.reason:
            body["reason"] = request.reason
        if request.notify_url:
            body["notify_url"] = request.notify_url
        return parse_refund(self._call("POST", REFUNDS, body))

    def query_refund(self, out_refund_no):
        return parse_refund(self._call("GET", f"{REFUNDS}/{quote(out_refund_no, safe='')}"))

    def parse_refund_notification(self, headers, body):
        event_id, event_type, payload = self._open_notification(headers, body)
        try:
            result = parse_refund(payload)
        except (ValueError, InvalidResponse):
            raise NotificationError("decrypted resource is not a refund", "MALFORMED") from None
        if not event_type.startswith("REFUND.") or payload.get("mchid") not in (None, self.mchid):
            raise NotificationError("not a refund notification of ours", "MERCHANT_MISMATCH")
        return RefundNotification(
            event_id=event_id, event_type=event_type, refund=result, payload=payload
        )

    def apply_abnormal_refund(
        self, refund_id, out_refund_no, type, bank_type=None, bank_account=None, real_name=None
    ):
        """Send an ABNORMAL refund again: to the user's bank card (``USER_BANK_CARD``, with
        bank_type, bank_account and real_name, encrypted for WeChat) or the merchant's
        (``MERCHANT_BANK_CARD``)."""
        body = {"out_refund_no": out_refund_no, "type": type}
        if bank_type:
            body["bank_type"] = bank_type
        sensitive = {"bank_account": bank_account, "real_name": real_name}
        if any(sensitive.values()):
            serial, key = self.platform_keys.encryption_key()
            body.update(
                {name: crypto.rsa_encrypt(key, value) for name, value in sensitive.items() if value}
            )
            extra = {"Wechatpay-Serial": serial}
        else:
            extra = {}
        path = f"{REFUNDS}/{quote(refund_id, safe='')}/apply-abnormal-refund"
        return parse_refund(self._call("POST", path, body, headers=extra))

    def _open_notification(self, headers, body):
        """(event id, event type, decrypted resource as a dict) of a notification whose
        signature, timestamp and serial verify; NotificationError otherwise."""
        verify_signed_message(headers, body, self.platform_keys)
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            event_id, event_type = envelope["id"], envelope["event_type"]
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise ValueError("unsupported algorithm")
            plaintext = crypto.aes_gcm_decrypt(
                self.apiv3_key,
                resource["nonce"],
                resource["ciphertext"],
                resource.get("associated_data", ""),
            )
        except crypto.DecryptionError:
            raise NotificationError("resource does not decrypt", "DECRYPT_FAILED") from None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise NotificationError("notification body is not a v3 event", "MALFORMED") from None
        try:
            payload = json.loads(plaintext)
            if not isinstance(payload, dict) or not checks.encodes_as_utf8(payload):
                raise ValueError("not an object of valid Unicode text")  # stored as received
            event_id = checks.text({"id": event_id}, "id", checks.MAX_EVENT_ID, required=True)
            event_type = checks.text(
                {"event_type": event_type}, "event_type", checks.MAX_EVENT_TYPE, required=True
            )
        except (ValueError, RecursionError) as exc:
            raise NotificationError(
                f"notification content is malformed: {exc}", "MALFORMED"
            ) from None
        return event_id, event_type, payload

    def notification_reply(self, ok, message=""):
        if ok:
            return Reply(b"", 204, "application/json")
        body = json.dumps({"code": "FAIL", "message": message or "FAIL"}).encode()
        return Reply(body, 400, "application/json")

    # --- bills (protocol C7) ------------------------------------------------------------------

    def download_trade_bill(self, day):
        """The trade bill (ALL) of one Beijing day as bytes; None when WeChat has none."""
        return self._download_bill(
            "/v3/bill/tradebill",
            {"bill_date": day.isoformat(), "bill_type": "ALL", "tar_type": "GZIP"},
        )

    def download_fund_flow_bill(self, day):
        """The fund flow bill of the basic account for one Beijing day; None when none."""
        return self._download_bill(
            "/v3/bill/fundflowbill",
            {"bill_date": day.isoformat(), "account_type": "BASIC", "tar_type": "GZIP"},
        )

    def _download_bill(self, path, query):
        try:
            data = self._call("GET", path, query=query)
        except ApiError as exc:
            if exc.code in BILL_ABSENT_CODES:
                return None
            if exc.code in BILL_NOT_READY_CODES:
                raise BillNotReady(exc.message) from None
            raise
        data = data or {}
        url, hash_value = data.get("download_url"), data.get("hash_value")
        if (
            data.get("hash_type") != "SHA1"
            or not isinstance(hash_value, str)
            or not isinstance(url, str)
        ):
            raise InvalidResponse("bill answer lacks download_url or a SHA1 hash_value")
        # Our signed request goes to our configured API host only, whatever host the URL names.
        parts = urlsplit(url)
        status, _headers, raw = self._send(
            "GET", parts.path + (f"?{parts.query}" if parts.query else "")
        )
        if status != 200:
            self._decode(status, raw)  # raises ApiError with WeChat's code
        # The file answer is the one v3 answer WeChat does not sign (protocol C3); the SHA1
        # of the first (signed) answer covers the decompressed bill (WeChat's doc: 原始账单,
        # gzip需要解压缩).
        try:
            bill = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        except (OSError, EOFError):
            raise InvalidResponse("bill file is not valid gzip") from None
        if not hmac.compare_digest(hashlib.sha1(bill).hexdigest(), hash_value.lower()):
            raise BillHashMismatch("bill file does not match the SHA1 WeChat announced")
        return bill

    # --- platform certificates ---------------------------------------------------------------

    def download_certificates(self):
        """{serial: public key} of the platform certificates, decrypted with the APIv3 key.

        The response is verified with the certificates it carries, since there is no other
        key to verify it with yet (what the official SDKs do on first download).
        """
        status, headers, raw = self._send("GET", "/v3/certificates")
        data = self._decode(status, raw)
        certificates = {}
        for item in data.get("data", []):
            pem = crypto.aes_gcm_decrypt(
                self.apiv3_key,
                item["encrypt_certificate"]["nonce"],
                item["encrypt_certificate"]["ciphertext"],
                item["encrypt_certificate"]["associated_data"],
            )
            certificates[crypto.certificate_serial(pem)] = crypto.load_public_key(pem)

        def key_for_serial(serial):
            # Signed with one of the listed certificates, or (public key mode, since we sent
            # our public key id) with the WeChat Pay public key we already hold.
            if self.platform_keys.public_key_id and serial == self.platform_keys.public_key_id:
                return self.platform_keys.public_key
            return certificates.get(serial)

        try:
            verify_signed_message(headers, raw, key_for_serial)
        except NotificationError as exc:
            raise InvalidResponse(f"certificate list failed verification: {exc.code}") from None
        return certificates

    # --- HTTP --------------------------------------------------------------------------------

    def _call(self, method, path, body=None, query=None, repeatable=True, headers=None):
        """Send one signed request; return the verified JSON body (None for 204).

        ``repeatable=False`` for calls that must not happen twice (placing an order): they go
        to the backup domain only when the primary provably never got them.
        """
        status, headers, raw = self._send(method, path, body, query, repeatable, headers)
        request_id = headers.get("Request-ID")
        # One line per call with WeChat's Request-ID: what WeChat Pay's support asks for.
        log.info(
            "WeChat Pay %s %s: HTTP %s (Request-ID %s)", method, path, status, request_id or "-"
        )
        try:
            if 200 <= status < 300:
                try:
                    verify_signed_message(headers, raw, self.platform_keys)
                except NotificationError as exc:
                    serial = headers.get("Wechatpay-Serial", "")
                    if exc.code == "UNKNOWN_SERIAL" and serial.startswith("PUB_KEY_ID_"):
                        raise Misconfigured(
                            f"WeChat Pay signs with public key {serial[:64]}: set "
                            "WECHATPAY_PUBLIC_KEY_ID to it and WECHATPAY_PUBLIC_KEY to its file "
                            "(flask --app server doctor checks this)"
                        ) from None
                    raise InvalidResponse(f"response signature check failed: {exc.code}") from None
            return self._decode(status, raw)
        except WeChatPayError as exc:
            exc.request_id = request_id
            raise

    def _send(self, method, path, body=None, query=None, repeatable=True, extra_headers=None):
        url = path + ("?" + urlencode(query) if query else "")
        raw_body = (
            json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            if body is not None
            else b""
        )
        headers = {
            "Authorization": crypto.v3_authorization(
                self.private_key, self.mchid, self.serial_no, method, url, raw_body
            ),
            "Accept": "application/json",
            "User-Agent": "wechatpay-miniprogram-starter/1.0",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.platform_keys.public_key_id:
            # Asks WeChat to sign the response with the public key we hold (protocol C4).
            headers["Wechatpay-Serial"] = self.platform_keys.public_key_id
        headers.update(extra_headers or {})
        try:
            response = send_with_failover(
                self.session,
                method,
                self.api_bases,
                url,
                repeatable=repeatable,
                data=raw_body or None,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.Timeout:
            raise TransportError(f"WeChat Pay timed out on {method} {path}") from None
        except requests.RequestException as exc:
            raise TransportError(
                f"WeChat Pay unreachable on {method} {path}: {type(exc).__name__}"
            ) from None
        return response.status_code, response.headers, response.content

    @staticmethod
    def _decode(status, raw):
        try:
            data = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            data = None
        if 200 <= status < 300:
            if raw and not isinstance(data, dict):
                raise InvalidResponse("WeChat Pay answered with a body that is not JSON")
            return data
        data = data if isinstance(data, dict) else {}
        code = CODE_ALIASES.get(data.get("code"), data.get("code") or f"HTTP_{status}")
        raise ApiError(
            code,
            str(data.get("message") or f"HTTP {status}"),
            status,
            retryable=status >= 500 or code in RETRYABLE_CODES,
        )


def parse_transaction(data):
    """A gateway Transaction from a v3 transaction object (query response or notification).

    Signed is not the same as well-formed: every field we read is checked for type and length
    here, so a verified message with a list, a number or an over-long id in it is refused
    (InvalidResponse) instead of failing in the database.
    """
    try:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        amount = data.get("amount") or {}
        payer = data.get("payer") or {}
        if not isinstance(amount, dict) or not isinstance(payer, dict):
            raise ValueError("amount or payer is not an object")
        if (checks.text(amount, "currency", 8) or "CNY") != "CNY":
            raise ValueError("amount.currency is not CNY")  # fen of another currency
        total = amount.get("total")
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int) or not 0 <= total < 2**31
        ):
            raise ValueError("amount.total is not a whole number of fen")
        return Transaction(
            out_trade_no=checks.text(data, "out_trade_no", checks.MAX_OUT_TRADE_NO, required=True),
            trade_state=checks.trade_state(data),
            appid=checks.text(data, "appid", checks.MAX_ID),
            mchid=checks.text(data, "mchid", checks.MAX_ID),
            total=total,
            transaction_id=checks.text(data, "transaction_id", checks.MAX_TRANSACTION_ID),
            openid=checks.text(payer, "openid", checks.MAX_OPENID),
            success_time=_parse_time(checks.text(data, "success_time", checks.MAX_TEXT)),
            trade_state_desc=checks.text(data, "trade_state_desc", checks.MAX_TEXT),
        )
    except ValueError as exc:
        raise InvalidResponse(f"not a transaction object: {exc}") from None


def parse_refund(data):
    """A gateway RefundResult from a v3 refund object (answer, query or notification)."""
    if not isinstance(data, dict) or not isinstance(data.get("out_refund_no"), str):
        raise InvalidResponse("not a refund object")
    amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
    if amount.get("currency", "CNY") != "CNY":
        raise InvalidResponse("amount.currency is not CNY")
    status = data.get("status") or data.get("refund_status")  # notifications: refund_status
    refund, total = amount.get("refund"), amount.get("total")
    if status not in ("PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL") or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in (refund, total)
    ):
        raise InvalidResponse("refund object without a known status or integer amounts")
    try:  # types and lengths, so a strange (even genuinely signed) answer never reaches a column
        return RefundResult(
            out_refund_no=checks.text(data, "out_refund_no", 64, required=True),
            status=status,
            refund=refund,
            total=total,
            out_trade_no=checks.text(data, "out_trade_no", checks.MAX_OUT_TRADE_NO),
            refund_id=checks.text(data, "refund_id", 64),
            transaction_id=checks.text(data, "transaction_id", checks.MAX_TRANSACTION_ID),
            channel=checks.text(data, "channel", 32),
            user_received_account=checks.text(data, "user_received_account", 128),
            success_time=_parse_time(checks.text(data, "success_time", checks.MAX_TEXT)),
            create_time=_parse_time(checks.text(data, "create_time", checks.MAX_TEXT)),
        )
    except ValueError as exc:
        raise InvalidResponse(f"refund object: {exc}") from None


def _parse_time(value):
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        raise InvalidResponse(f"time {str(value)[:40]!r} is not RFC 3339") from None

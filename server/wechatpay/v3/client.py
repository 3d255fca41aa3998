"""The v3 client core: every product's requests go through ``V3Client``.

It signs each request (``Authorization: WECHATPAY2-SHA256-RSA2048``), sends it through the
shared session with failover to the backup domain, verifies every answer's signature with the
platform keys, maps WeChat's error codes, and opens notifications (signature, timestamp,
serial, then AES-256-GCM with the APIv3 key). Products (``jsapi``, ``transactions``,
``refunds``, ``bills``) only build bodies and read answers.
"""

import json
import logging
from datetime import datetime
from urllib.parse import urlencode

import requests

from .. import checks, crypto
from ..core.errors import (
    ApiError,
    InvalidResponse,
    Misconfigured,
    NotificationError,
    TransportError,
    WeChatPayError,
)
from ..core.http import send_with_failover
from ..core.types import Reply
from .keys import verify_signed_message

# One logger for the whole API version, named as before v3 became a package.
log = logging.getLogger(__package__)

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


class V3Client:
    """Signed requests, verified answers and opened notifications for one v3 merchant."""

    api_version = "v3"

    # Whose requests these are: a direct merchant's ids (``partner.Partner`` has a service
    # provider's). The product calls read them, so one body serves both: where orders are
    # placed, queried and closed; the ids an order (or a reverse) names; those a query or a
    # close names; what a refund adds; a JSAPI order's payer.
    transactions_path = "/v3/pay/transactions"

    def _order_ids(self):
        return {"appid": self.appid, "mchid": self.mchid}

    def _merchant_ids(self):
        return {"mchid": self.mchid}

    def _refund_ids(self):
        return {}

    def _payer(self, openid):
        return {"openid": openid}

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
            # Asks WeChat to sign the response with the public key we hold (docs/protocol.md C4).
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


def parse_time(value):
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        raise InvalidResponse(f"time {str(value)[:40]!r} is not RFC 3339") from None

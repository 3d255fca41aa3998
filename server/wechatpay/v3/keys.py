"""How WeChat Pay's v3 messages are verified: the ``Wechatpay-*`` signature over the raw body
within a 5-minute window, with the key that ``Wechatpay-Serial`` names (the WeChat Pay public
key, or a platform certificate downloaded and refreshed on rotation)."""

import logging
import re
import threading
import time

from .. import crypto
from ..core.errors import NotificationError, TransportError

# One logger for the whole API version, named as before v3 became a package.
log = logging.getLogger(__package__)

TIMESTAMP_TOLERANCE = 300  # seconds; the official SDKs refuse |now - ts| >= 5 min


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
        """(serial, public key) to encrypt sensitive fields for WeChat (docs/protocol.md C10): the
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

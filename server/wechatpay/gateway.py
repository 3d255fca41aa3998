"""The version-agnostic face of WeChat Pay that the rest of the backend talks to.

``orders.py``, ``payments.py``, ``notify.py`` and the jobs use only what is defined here, so
they never branch on the API version: ``build_gateway(settings)`` returns the v3 or the v2
implementation, and both answer in these data classes.
"""

import copy
import functools
import logging
import os
import re
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.exceptions import NewConnectionError
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

# WeChat's times are Beijing time (v2 yyyyMMddHHmmss; v3 RFC 3339 with +08:00).
CHINA = timezone(timedelta(hours=8))

# Trade states as WeChat names them in both versions (v2 trade_state, v3 trade_state).
SUCCESS, REFUND, NOTPAY, CLOSED = "SUCCESS", "REFUND", "NOTPAY", "CLOSED"
USERPAYING, PAYERROR, REVOKED = "USERPAYING", "PAYERROR", "REVOKED"
# REFUND means "paid, then refunded in part or whole": the money was taken, so for the order's
# payment it counts as paid; what was given back is told by the refunds themselves.

# WeChat's charset for out_refund_no (both versions): at most 64 of 0-9 A-Z a-z _ - | * @.
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")

# Refund states as WeChat names them (v3 status; v2 refund_status_$n)
REFUND_PROCESSING, REFUND_SUCCESS, REFUND_CLOSED, REFUND_ABNORMAL = (
    "PROCESSING",
    "SUCCESS",
    "CLOSED",
    "ABNORMAL",
)


@dataclass(frozen=True)
class OrderRequest:
    """One JSAPI (mini program) order to place. Amounts are integer fen."""

    out_trade_no: str
    description: str
    total: int
    openid: str
    notify_url: str
    time_expire: datetime  # timezone-aware
    client_ip: str | None = None
    attach: str | None = None


@dataclass(frozen=True)
class Transaction:
    """What WeChat says about one order, from a query or a notification, in either version."""

    out_trade_no: str
    trade_state: str
    appid: str | None = None
    mchid: str | None = None
    total: int | None = None
    transaction_id: str | None = None
    openid: str | None = None
    success_time: datetime | None = None
    trade_state_desc: str | None = None


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted payment notification.

    ``event_id`` is the idempotency key: v3's notification ``id``; for v2, which has none, the
    transaction_id (WeChat sends one success notification per transaction).
    """

    event_id: str
    event_type: str
    transaction: Transaction
    payload: dict = field(repr=False)


@dataclass(frozen=True)
class RefundRequest:  # what we ask WeChat for; amounts in fen
    out_trade_no: str
    out_refund_no: str
    refund: int
    total: int  # the order's total, as WeChat requires
    reason: str | None = None
    notify_url: str | None = None


@dataclass(frozen=True)
class RefundResult:  # what WeChat says about one refund (apply, query, notification)
    out_refund_no: str
    status: str  # PROCESSING | SUCCESS | CLOSED | ABNORMAL
    refund: int
    total: int
    out_trade_no: str | None = None
    refund_id: str | None = None
    transaction_id: str | None = None
    channel: str | None = None  # ORIGINAL | BALANCE | OTHER_BALANCE | OTHER_BANKCARD
    user_received_account: str | None = None
    success_time: datetime | None = None
    create_time: datetime | None = None


@dataclass(frozen=True)
class RefundNotification:  # verified (v3) / decrypted (v2) refund notification
    event_id: str  # idempotency key: v3 notification id; v2 out_refund_no+status
    event_type: str  # REFUND.SUCCESS | REFUND.ABNORMAL | REFUND.CLOSED
    refund: RefundResult
    payload: dict  # what to keep in the audit trail (no secrets)


@dataclass(frozen=True)
class Reply:
    """The HTTP answer to a notification: v3 wants a status and JSON, v2 an XML body."""

    body: bytes
    status: int
    content_type: str


class Gateway(Protocol):
    api_version: str

    def place_order(self, request: OrderRequest) -> str:
        """Place a JSAPI order and return its prepay_id. Raises ApiError / TransportError."""

    def pay_params(self, prepay_id: str) -> dict:
        """The signed object for ``wx.requestPayment`` (timeStamp, nonceStr, package, ...)."""

    def query_order(self, out_trade_no: str) -> Transaction:
        """The order as WeChat sees it. ApiError code ORDER_NOT_EXIST when it does not know it."""

    def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid order. ApiError ORDERPAID when it was paid meanwhile."""

    def parse_payment_notification(self, headers, body: bytes) -> Notification:
        """Verify and decrypt a payment notification. Raises NotificationError."""

    def notification_reply(self, ok: bool, message: str = "") -> Reply:
        """What to answer WeChat: success acknowledges, failure makes WeChat retry."""

    def refund(self, request: RefundRequest) -> RefundResult:
        """Ask for a refund. ApiError for a definite refusal (NOT_ENOUGH...) or a retryable one
        (``retryable``); TransportError when the outcome is unknown: retry the same request."""

    def query_refund(self, out_refund_no: str) -> RefundResult:
        """The refund as WeChat sees it."""

    def parse_refund_notification(self, headers, body: bytes) -> RefundNotification:
        """Verify and decrypt a refund notification. Raises NotificationError."""


def new_http_session(retries=True):
    """One pooled HTTP session per process for every call to WeChat.

    Retries only what cannot have reached WeChat (failed connects) and idempotent GETs;
    a POST that may have arrived is never resent blindly: the caller queries instead.
    ``retries=False``: nothing is retried (calls a user is waiting on).
    """
    retry = (
        Retry(
            total=2,
            connect=2,
            read=1,
            status=0,
            allowed_methods={"GET"},
            backoff_factor=0.2,
            raise_on_status=False,
        )
        if retries
        else 0
    )
    session = EnvironmentOnceSession()
    session.mount("https://", SharedTLSAdapter(max_retries=retry, pool_maxsize=16))
    session.mount("http://", HTTPAdapter(max_retries=retry, pool_maxsize=16))
    return session


class EnvironmentOnceSession(requests.Session):
    """A requests session that reads its settings from the environment once, not per call.

    requests looks up the proxy variables, NO_PROXY and ~/.netrc on every request (1-2 ms of
    CPU, a fifth of placing an order). Here the proxies (HTTPS_PROXY, NO_PROXY...) are read
    once per host, the CA bundle (``ca_bundle()``) when the session is made, and ~/.netrc
    never: the Authorization header is WeChat Pay's signature.
    """

    def __init__(self):
        super().__init__()
        self.trust_env = False
        self.verify = ca_bundle()

    def request(self, method, url, **kwargs):
        scheme, host = urlsplit(url)[:2]
        kwargs.setdefault("proxies", _environment_proxies(scheme, host))
        return super().request(method, url, **kwargs)


@functools.cache
def _environment_proxies(scheme, host):
    return requests.utils.get_environ_proxies(f"{scheme}://{host}/")


def never_sent(exc):
    """True when a request provably never reached the server: no connection was made
    (connection refused, DNS failure, connect timeout). A read timeout or a dropped
    connection may have delivered it."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def send_with_failover(session, method, bases, path, *, repeatable, **kwargs):
    """``session.request`` to the first base, then to the next ones (WeChat's backup domain
    api2.mch.weixin.qq.com) when the first cannot be reached.

    ``repeatable``: the call is safe to make twice (queries, close, downloads), so any transport
    failure moves on. Otherwise (placing an order) only a request that never left moves on,
    since one that may have arrived must be queried, not resent.
    """
    for index, base in enumerate(bases):
        try:
            return session.request(method, base + path, **kwargs)
        except requests.RequestException as exc:
            if index + 1 == len(bases) or not (repeatable or never_sent(exc)):
                raise
            log.warning(
                "WeChat Pay %s unreachable (%s); trying %s",
                base,
                type(exc).__name__,
                bases[index + 1],
            )


def with_budget(gateway, seconds):
    """A copy of ``gateway`` for calls a user waits on: it gives up after ``seconds`` without
    an answer and retries nothing. Keys, certificates and settings stay shared."""
    quick = copy.copy(gateway)
    quick.session = new_http_session(retries=False)
    quick.timeout = (min(1.0, seconds), seconds)  # (connect, read)
    quick.retry_queries = False  # v2 retries a query itself; v3 leaves it to the session
    return quick


def ca_bundle():
    """The CA bundle requests would verify with (its environment variables, else certifi)."""
    return (
        os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or DEFAULT_CA_BUNDLE_PATH
    )


@functools.cache
def tls_context(bundle):
    """One verifying SSL context per CA bundle and process."""
    return ssl.create_default_context(cafile=bundle)


class SharedTLSAdapter(HTTPAdapter):
    """Verifies with one SSL context per process. Left to themselves, requests and urllib3
    build a context and parse the whole CA bundle for every new connection (about 35 ms of
    CPU), so each reconnect to WeChat would pay for it again."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = tls_context(ca_bundle())
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn, url, verify, cert):
        super().cert_verify(conn, url, verify, cert)
        if verify is True or verify == ca_bundle():
            # Already loaded in the shared context; naming it again would reload it.
            conn.ca_certs = conn.ca_cert_dir = None

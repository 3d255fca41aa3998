"""The version-agnostic face of WeChat Pay that the rest of the backend talks to.

The app's checkout, payments, notifications, refunds, bills and jobs use only what is defined
here, so they never branch on the API version: the app builds a ``V3Gateway`` or a
``V2Gateway`` (``server.wechatpay.v3``, ``server.wechatpay.v2``), and both answer in these
data classes.
"""

import copy
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

from .errors import Unsupported

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
    """One order to place (JSAPI, Native, H5...). Amounts are integer fen."""

    out_trade_no: str
    description: str
    total: int
    openid: str
    notify_url: str
    time_expire: datetime  # timezone-aware
    client_ip: str | None = None
    attach: str | None = None
    # Native on v2 requires a product id (any id of the merchant's, at most 32 characters).
    product_id: str | None = None


@dataclass(frozen=True)
class CodepayRequest:
    """One payment code (付款码) to charge: a customer's auth code, scanned at a counter."""

    out_trade_no: str
    description: str
    total: int  # fen
    auth_code: str = field(repr=False)  # 18 digits; a one-time credential: never logged
    device_ip: str | None = None  # the terminal's (v3 scene_info.device_ip, v2 spbill_create_ip)
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
    # A service provider's sub-merchant and its appid (partner payments); None for a direct
    # merchant's.
    sub_mchid: str | None = None
    sub_appid: str | None = None


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
    # Whose refund WeChat says it is, when the message names it (v3 notifications: mchid;
    # v2 notifications: appid and mch_id; partner ones: the sub-merchant too).
    mchid: str | None = None
    appid: str | None = None
    sub_mchid: str | None = None


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
    """Everything the app asks of WeChat Pay, whatever the API version.

    ``V3Gateway`` and ``V2Gateway`` subclass it explicitly, after their product classes, so a
    call a version does not offer falls through to the default here: it raises Unsupported
    before anything is sent, and callers catch a typed error instead of testing for a method.
    A product module that adds a call declares it here, with the same default.
    """

    api_version: str  # "v3" or "v2"
    appid: str  # the appid orders are placed for (see ``bound`` below)
    mchid: str  # the merchant whose keys sign and verify: one gateway per merchant and version
    sub_mchid: str | None = None  # a service provider's sub-merchant (partner products)
    sub_appid: str | None = None

    # --- paying (jsapi.py, transactions.py) --------------------------------------------------

    def place_order(self, request: OrderRequest) -> str:
        """Place a JSAPI order and return its prepay_id. Raises ApiError / TransportError."""
        raise _unsupported(self, "place_order")

    def pay_params(self, prepay_id: str) -> dict:
        """The signed object for ``wx.requestPayment`` (timeStamp, nonceStr, package, ...)."""
        raise _unsupported(self, "pay_params")

    def place_native_order(self, request: OrderRequest) -> str:
        """Place a Native (QR code) order and return its code_url (native.py). ``openid`` is
        not sent: the payer is whoever scans the code."""
        raise _unsupported(self, "place_native_order")

    def place_h5_order(self, request: OrderRequest) -> str:
        """Place an H5 (MWEB) order for the payer at ``client_ip`` and return its h5_url
        (v2: mweb_url), valid 5 minutes (h5.py)."""
        raise _unsupported(self, "place_h5_order")

    def place_app_order(self, request: OrderRequest) -> str:
        """Place an APP order for the mobile app's appid; its prepay_id (app.py)."""
        raise _unsupported(self, "place_app_order")

    def app_pay_params(self, prepay_id: str) -> dict:
        """The signed PayReq a native app passes to WeChat's SDK (appid, partnerid, prepayid,
        package ``Sign=WXPay``, noncestr, timestamp, sign)."""
        raise _unsupported(self, "app_pay_params")

    def query_order(self, out_trade_no: str) -> Transaction:
        """The order as WeChat sees it. ApiError code ORDER_NOT_EXIST when it does not know it."""
        raise _unsupported(self, "query_order")

    def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid order. ApiError ORDERPAID when it was paid meanwhile."""
        raise _unsupported(self, "close_order")

    def parse_payment_notification(self, headers, body: bytes) -> Notification:
        """Verify and decrypt a payment notification. Raises NotificationError.

        Whose payment it is (appid, mchid, sub_mchid) the caller checks against the order it
        names (``payments.apply_transaction``): one merchant's gateway verifies the
        notifications of all its appids, and a genuine one for another merchant is kept."""
        raise _unsupported(self, "parse_payment_notification")

    def notification_reply(self, ok: bool, message: str = "") -> Reply:
        """What to answer WeChat: success acknowledges, failure makes WeChat retry."""
        raise _unsupported(self, "notification_reply")

    # --- the payment code (codepay.py) ------------------------------------------------------

    def charge_auth_code(self, request: CodepayRequest) -> Transaction:
        """Charge a payment code. A Transaction SUCCESS (paid) or USERPAYING (the customer is
        asked for the PIN: query). ApiError for a refusal; SYSTEM_ERROR / BANKERROR /
        BANK_ERROR and TransportError mean the result is unknown: query, never charge again."""
        raise _unsupported(self, "charge_auth_code")

    def reverse_order(self, out_trade_no: str) -> bool:
        """Reverse (撤销) a payment-code order: closed if unpaid, refunded if paid. True when
        WeChat asks to be called again (v2 ``recall=Y``). ApiError USERPAYING while the
        customer is still in the PIN dialog."""
        raise _unsupported(self, "reverse_order")

    # --- refunds (refunds.py) ----------------------------------------------------------------

    def refund(self, request: RefundRequest) -> RefundResult:
        """Ask for a refund. ApiError for a definite refusal (NOT_ENOUGH...) or a retryable one
        (``retryable``); TransportError when the outcome is unknown: retry the same request."""
        raise _unsupported(self, "refund")

    def query_refund(self, out_refund_no: str) -> RefundResult:
        """The refund as WeChat sees it."""
        raise _unsupported(self, "query_refund")

    def parse_refund_notification(self, headers, body: bytes) -> RefundNotification:
        """Verify and decrypt a refund notification. Raises NotificationError. Whose refund
        it is the caller checks against the refund's order (``refunds.apply_refund_result``)."""
        raise _unsupported(self, "parse_refund_notification")

    def apply_abnormal_refund(
        self,
        refund_id: str,
        out_refund_no: str,
        type: str,
        bank_type: str | None = None,
        bank_account: str | None = None,
        real_name: str | None = None,
    ) -> RefundResult:
        """Send an ABNORMAL refund again, to the user's bank card (``USER_BANK_CARD``) or the
        merchant's (``MERCHANT_BANK_CARD``). v3 only: Unsupported in v2."""
        raise _unsupported(self, "apply_abnormal_refund")

    # --- bills (bills.py) --------------------------------------------------------------------

    def download_trade_bill(self, day: date) -> bytes | None:
        """The trade bill (ALL) of one Beijing day; None when WeChat has none. BillNotReady
        before WeChat has made it; BillHashMismatch (v3) when it fails its SHA1."""
        raise _unsupported(self, "download_trade_bill")

    def download_fund_flow_bill(self, day: date) -> bytes | None:
        """The fund flow bill of the basic account for one Beijing day; None when none."""
        raise _unsupported(self, "download_fund_flow_bill")


def bound(gateway, appid, sub_mchid=None, sub_appid=None):
    """``gateway`` for orders of ``appid`` (and a sub-merchant's ids): a shallow copy sharing
    everything that matters (keys, the HTTP session, the platform certificates, the client
    certificate), so one merchant's gateway serves all its appids (a mini program, an official
    account, an app) without a second set of keys or connections, as ``http.with_budget``
    shares them for a shorter timeout.

    Each call reads the ids from the gateway it is made on: a v3 order body's appid, a v2
    request's appid, the appid paySign covers, the appid a v2 answer must name.
    """
    if (appid, sub_mchid, sub_appid) == (gateway.appid, gateway.sub_mchid, gateway.sub_appid):
        return gateway
    view = copy.copy(gateway)
    view.appid, view.sub_mchid, view.sub_appid = appid, sub_mchid, sub_appid
    return view


def answered_for(gateway, refund):
    """WeChat's answer to a refund request (apply, query) naming a sub-merchant (a service
    provider's refund) is that sub-merchant's, whether or not the answer repeats it."""
    if refund.sub_mchid or not gateway.sub_mchid:
        return refund
    return replace(refund, sub_mchid=gateway.sub_mchid)


def _unsupported(gateway, call):
    return Unsupported(f"API {gateway.api_version} has no {call}")

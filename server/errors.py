"""One kind of error for what the shop refuses or cannot do, and one table of HTTP statuses.

A ``DomainError`` has a stable ``code`` (the mini program, the console, scripts and logs key
on it), a message for people, and extras: ids and WeChat's codes, which the API adds to its
JSON. The domain, the surfaces and the WeChat clients raise it alike; each surface turns it
into its own form in one place:

- the API (and WeChat's callbacks): ``{"error": {"code", "message", ...extras}}`` with the
  status ``STATUS`` gives (``server/api/errors.py``);
- the staff console: the message on the page, or its Not found page (``refused`` in
  ``server/console/__init__.py``);
- the CLI: ``Error: CODE: message`` and exit status 1 (``server/cli/common.py``).

Subclasses exist only where a caller must catch one kind apart from the others:
``payments.PaymentMismatch`` and ``refunds.RefundMismatch`` (WeChat's account contradicts
ours: recorded for a person and answered so that WeChat retries).
No Flask here: the domain imports this module.
"""

import logging

from .wechatpay.core.errors import ApiError, Misconfigured

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Something refused or impossible, with a stable ``code``; nothing was half-written."""

    def __init__(self, code, message, **extra):
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra


# The status of every code, in two parts: what the mini program's API can answer (the mini
# program has a text for each one, miniprogram/i18n; tests/miniprogram/i18n.test.js checks),
# and what only the staff (console, CLI) and WeChat's callbacks meet.
USER_FACING = {
    # The request
    "INVALID_REQUEST": 400,
    "BODY_TOO_LARGE": 413,
    "UNAUTHORIZED": 401,
    "RATE_LIMITED": 429,
    # Login (jscode2session)
    "INVALID_CODE": 401,
    "LOGIN_BLOCKED": 403,
    "CONFLICT": 409,
    "WECHAT_ERROR": 502,
    "WECHAT_UNAVAILABLE": 503,
    # Checkout and orders
    "PRODUCT_NOT_FOUND": 404,
    "CART_SPANS_STORES": 409,
    "ORDER_NOT_FOUND": 404,
    "IDEMPOTENCY_KEY_REUSED": 409,
    "ORDER_NOT_PAYABLE": 409,
    "ORDER_NOT_SHIPPED": 409,
    "ORDER_NOT_CANCELLABLE": 409,
    # Delivery addresses (server/domain/addresses.py)
    "ADDRESS_REQUIRED": 400,
    "INVALID_ADDRESS": 400,
    "INVALID_PHONE": 400,
    "ADDRESS_NOT_CHANGEABLE": 409,
    # Refund requests
    "REFUNDS_DISABLED": 403,
    "ORDER_NOT_REFUNDABLE": 409,
    "REFUND_WINDOW_PASSED": 409,
    "REQUEST_ALREADY_PENDING": 409,
    # WeChat Pay
    "WECHATPAY_ERROR": 502,
    "WECHATPAY_UNAVAILABLE": 503,
    "PAYMENTS_MISCONFIGURED": 503,
    "PAYMENTS_NOT_CONFIGURED": 503,
}
STAFF_AND_WECHAT = {
    # A notify URL (or a checkout) names a payment channel the settings do not have
    "CHANNEL_NOT_FOUND": 404,
    "STORE_NOT_FOUND": 404,
    # A service provider's order (a counter sale) names no store (docs/provider.md)
    "STORE_REQUIRED": 400,
    # WeChat's account of a payment or refund contradicts ours
    "MERCHANT_MISMATCH": 409,
    "AMOUNT_MISMATCH": 409,
    "TRANSACTION_ID_IN_USE": 409,
    "REFUND_NOT_FOUND": 404,
    "ORDER_MISMATCH": 409,
    "REFUND_ID_MISMATCH": 409,
    "STATUS_CONFLICT": 409,
    # Refunds the shop makes
    "INVALID_REFUND_NO": 400,
    "INVALID_AMOUNT": 400,
    "TOO_MANY_REFUNDS": 409,
    "EXCEEDS_REFUNDABLE": 409,
    "REFUND_NOT_ABNORMAL": 409,
    "REQUEST_NOT_FOUND": 404,
    "REQUEST_NOT_PENDING": 409,
    # Shipping
    "INVALID_SHIPPING": 400,
    "ORDER_NOT_SHIPPABLE": 409,
    "ALREADY_RECORDED": 409,
    "CHANGE_NOT_ALLOWED": 409,
    # The counter (payment code)
    "AUTH_CODE_INVALID": 400,
    "AUTH_CODE_USED": 409,
    "ORDER_NOT_REVERSIBLE": 409,
    "ORDER_NOT_CLOSABLE": 409,
    # Product images (the console's upload)
    "INVALID_IMAGE": 400,
    # Bills and reconciliation
    "BILL_MALFORMED": 502,
    "BILL_SUMMARY_MISMATCH": 502,
    "RUN_NOT_FOUND": 404,
    "DIFFERENCE_NOT_FOUND": 404,
    "NO_BILL": 404,
    "NOTE_REQUIRED": 400,
    "INVALID_INPUT": 400,
    "ALREADY_RESOLVED": 409,
    # Staff accounts
    "INVALID_EMAIL": 400,
    "INVALID_ROLE": 400,
    "INVALID_LANGUAGE": 400,
    "WEAK_PASSWORD": 400,
    "STAFF_EXISTS": 409,
    "STAFF_NOT_FOUND": 404,
    "BAD_CREDENTIALS": 401,
    "LOCKED": 403,
    "DISABLED": 403,
    "BAD_CODE": 401,
    "FORBIDDEN": 403,  # the staff member's role does not allow it (audited as "denied")
    # A POS terminal's token (server/domain/staff_tokens.py)
    "TOKEN_INVALID": 401,
    "TOKEN_REVOKED": 401,
    "TOKEN_NOT_ALLOWED": 403,
    # The mini program's message push (WeChat's callback)
    "PUSH_NOT_CONFIGURED": 404,
    "PUSH_STALE": 401,
    "PUSH_NOT_ENCRYPTED": 400,
    "PUSH_BAD_SIGNATURE": 401,
    "PUSH_UNDECRYPTABLE": 401,
    "PUSH_WRONG_APPID": 401,
    "INVALID_PUSH": 400,
}
STATUS = {**USER_FACING, **STAFF_AND_WECHAT}


def status_for(code):
    """The HTTP status of a DomainError's code (409 for one the table lacks: tests/test_errors.py
    checks that every code raised in server/ is in it)."""
    return STATUS.get(code, 409)


def wechatpay_error(exc, **extra):
    """The DomainError for a failed call to WeChat Pay (logged with WeChat's Request-ID); the
    caller says what it was doing in ``extra``."""
    log.warning("WeChat Pay call failed: %s", exc.summary)
    if exc.request_id:  # for the merchant's support ticket with WeChat Pay
        extra["wechatpay_request_id"] = exc.request_id
    if isinstance(exc, ApiError):
        return DomainError(
            "WECHATPAY_ERROR",
            f"WeChat Pay refused the request: {exc.code}",
            wechatpay_code=exc.code,
            **extra,
        )
    if isinstance(exc, Misconfigured):
        # Not "try again": the operator must change a setting (the log says which).
        log.error("WeChat Pay settings do not fit the merchant: %s", exc.message)
        return DomainError("PAYMENTS_MISCONFIGURED", "payments are not set up correctly", **extra)
    return DomainError(
        "WECHATPAY_UNAVAILABLE", "WeChat Pay did not answer; try again shortly", **extra
    )

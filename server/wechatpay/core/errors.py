"""Typed errors of the protocol layer. The HTTP layer maps them to stable JSON error codes."""


class WeChatPayError(Exception):
    """Base class: anything that went wrong talking to WeChat Pay.

    ``request_id`` is the ``Request-ID`` header of WeChat's answer when there was one: WeChat
    Pay's support asks for it first, so it goes into every log line about the error.
    """

    code = "WECHATPAY_ERROR"
    request_id = None

    def __init__(self, message, code=None, request_id=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if request_id:
            self.request_id = request_id

    @property
    def summary(self):
        """For logs: the code, the message and WeChat's Request-ID."""
        return f"{self.code}: {self.message} (Request-ID {self.request_id or '-'})"


class ApiError(WeChatPayError):
    """WeChat answered, and the answer is an error with a code (``ORDERPAID``, ``SIGN_ERROR``...).

    ``http_status`` is WeChat's own status (v3) or None (v2). ``retryable`` is True only for
    errors WeChat documents as "try again with the same parameters" (SYSTEMERROR and friends).
    """

    def __init__(self, code, message, http_status=None, retryable=False, request_id=None):
        super().__init__(message, code, request_id)
        self.http_status = http_status
        self.retryable = retryable


class TransportError(WeChatPayError):
    """No trustworthy answer: timeout, connection failure, or a response that failed checks.

    The outcome of the call is unknown, so a caller must be ready to retry or query.
    """

    code = "WECHATPAY_UNAVAILABLE"


class InvalidResponse(TransportError):
    """WeChat's answer was malformed or its signature did not verify."""

    code = "WECHATPAY_BAD_RESPONSE"


class Misconfigured(WeChatPayError):
    """WeChat answered, but our settings do not fit the merchant (e.g. WeChat signs with a
    WeChat Pay public key we are not configured with). Retrying cannot help; the message names
    the settings to change, and ``flask --app server doctor`` finds the same before a payment.
    """

    code = "PAYMENTS_MISCONFIGURED"


class NotificationError(WeChatPayError):
    """A notification was refused. ``code`` says why, for logs and the reply; never retried as ok.

    Codes: MALFORMED, SIGNATURE_INVALID, SIGNATURE_PROBE, TIMESTAMP_EXPIRED, UNKNOWN_SERIAL,
    DECRYPT_FAILED, MERCHANT_MISMATCH.
    """

    code = "NOTIFICATION_INVALID"


class BillNotReady(WeChatPayError):
    """WeChat has not finished the bill of that day yet (it publishes from about 10:00 the next
    day): try again later. Not an error of ours or of WeChat's."""

    code = "BILL_NOT_READY"


class BillHashMismatch(InvalidResponse):
    """A downloaded bill does not match the SHA1 WeChat announced for it: nothing is kept."""

    code = "BILL_HASH_MISMATCH"


class Unsupported(WeChatPayError):
    """The gateway has no such call in its API version (v2 cannot send an ABNORMAL refund
    again, say). Raised before anything is sent; retrying cannot help, another way can (the
    merchant platform)."""

    code = "UNSUPPORTED"

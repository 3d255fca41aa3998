"""One shape for every error the API returns: ``{"error": {"code", "message"}}``."""

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException, SecurityError

from .wechatpay.core.errors import ApiError, Misconfigured, TransportError

log = logging.getLogger(__name__)


class HttpError(Exception):
    """Raise anywhere in a request to answer with a JSON error and a stable code."""

    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_response(status, code, message, **extra):
    response = jsonify({"error": {"code": code, "message": message, **extra}})
    response.status_code = status
    return response


def wechatpay_http_error(exc, **extra):
    """The HttpError for a failed call to WeChat Pay (logged with WeChat's Request-ID); the
    caller says what it was doing."""
    log.warning("WeChat Pay call failed: %s", exc.summary)
    if exc.request_id:  # for the merchant's support ticket with WeChat Pay
        extra["wechatpay_request_id"] = exc.request_id
    if isinstance(exc, ApiError):
        return HttpError(
            502,
            "WECHATPAY_ERROR",
            f"WeChat Pay refused the request: {exc.code}",
            wechatpay_code=exc.code,
            **extra,
        )
    if isinstance(exc, Misconfigured):
        # Not "try again": the operator must change a setting (the log says which).
        log.error("WeChat Pay settings do not fit the merchant: %s", exc.message)
        return HttpError(
            503, "PAYMENTS_MISCONFIGURED", "payments are not set up correctly", **extra
        )
    return HttpError(
        503, "WECHATPAY_UNAVAILABLE", "WeChat Pay did not answer; try again shortly", **extra
    )


def register_error_handlers(app):
    @app.errorhandler(HttpError)
    def handle_http_error(exc):
        return error_response(exc.status, exc.code, exc.message, **exc.extra)

    @app.errorhandler(ApiError)
    @app.errorhandler(TransportError)
    def handle_wechatpay_error(exc):
        return handle_http_error(wechatpay_http_error(exc))

    @app.errorhandler(SecurityError)
    def handle_untrusted_host(exc):
        # Host or X-Forwarded-Host is not in TRUSTED_HOSTS.
        return error_response(400, "UNTRUSTED_HOST", "this host name is not served here")

    @app.errorhandler(HTTPException)
    def handle_werkzeug_error(exc):
        code = {
            400: "INVALID_REQUEST",
            404: "NOT_FOUND",
            405: "METHOD_NOT_ALLOWED",
            413: "BODY_TOO_LARGE",
            429: "RATE_LIMITED",
        }.get(exc.code, "HTTP_ERROR")
        return error_response(exc.code, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def handle_unexpected(exc):
        log.exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "internal error")

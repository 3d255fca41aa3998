"""One shape for every error the API returns: ``{"error": {"code", "message"}}``."""
import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException

from .wechatpay.errors import ApiError, Misconfigured, TransportError

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
    """The HttpError for a failed call to WeChat Pay; the caller says what it was doing."""
    if isinstance(exc, ApiError):
        return HttpError(502, "WECHATPAY_ERROR", f"WeChat Pay refused the request: {exc.code}",
                         wechatpay_code=exc.code, **extra)
    if isinstance(exc, Misconfigured):
        # Not "try again": the operator must change a setting (the log says which).
        log.error("WeChat Pay settings do not fit the merchant: %s", exc.message)
        return HttpError(503, "PAYMENTS_MISCONFIGURED", "payments are not set up correctly",
                         **extra)
    return HttpError(503, "WECHATPAY_UNAVAILABLE",
                     "WeChat Pay did not answer; try again shortly", **extra)


def register_error_handlers(app):
    @app.errorhandler(HttpError)
    def handle_http_error(exc):
        return error_response(exc.status, exc.code, exc.message, **exc.extra)

    @app.errorhandler(ApiError)
    @app.errorhandler(TransportError)
    def handle_wechatpay_error(exc):
        log.warning("WeChat Pay call failed: %s %s", exc.code, exc.message)
        return handle_http_error(wechatpay_http_error(exc))

    @app.errorhandler(HTTPException)
    def handle_werkzeug_error(exc):
        code = {400: "INVALID_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                413: "BODY_TOO_LARGE"}.get(exc.code, "HTTP_ERROR")
        return error_response(exc.code, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def handle_unexpected(exc):
        log.exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "internal error")

"""One shape for every error the API (and WeChat's callbacks) answer with:
``{"error": {"code", "message", ...}}``.

A DomainError gets the status of its code in ``server.errors.STATUS``; a failed call to WeChat
Pay that no view handled becomes its DomainError first; Werkzeug's own errors (404, 405, 413,
429...) and anything unexpected get the same shape.
"""

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException, SecurityError

from ..errors import DomainError, status_for, wechatpay_error
from ..wechatpay.core.errors import ApiError, TransportError

log = logging.getLogger(__name__)


def error_response(status, code, message, **extra):
    response = jsonify({"error": {"code": code, "message": message, **extra}})
    response.status_code = status
    return response


def register(app):
    @app.errorhandler(DomainError)
    def handle_domain_error(exc):
        return error_response(status_for(exc.code), exc.code, exc.message, **exc.extra)

    @app.errorhandler(ApiError)
    @app.errorhandler(TransportError)
    def handle_wechatpay_error(exc):
        return handle_domain_error(wechatpay_error(exc))

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

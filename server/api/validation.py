"""Reading request bodies strictly: the wrong shape is a 400 INVALID_REQUEST, never a 500.

``json_object()`` is the API's one body reader. It parses the bytes itself rather than through
``request.get_json``: Flask's parser lets a RecursionError (JSON nested thousands deep) escape
even with ``silent=True``, and it accepts strings with lone UTF-16 surrogates (``"\\ud800"``),
which cannot be encoded as UTF-8 and fail later in the database or an outbound call.
"""

import json

from flask import current_app, request

from ..errors import DomainError
from ..wechatpay.checks import encodes_as_utf8


def json_object():
    raw = request.get_data(cache=True)
    if request.content_length is None and len(raw) >= current_app.config["MAX_CONTENT_LENGTH"]:
        # A chunked body is cut silently at the limit; reading on raises 413 (not a 400 for
        # the truncated JSON). A declared Content-Length over the limit was refused already.
        request.stream.read(1)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        body = None
    if not isinstance(body, dict):
        raise DomainError("INVALID_REQUEST", "the body must be a JSON object")
    if not encodes_as_utf8(body):
        raise DomainError("INVALID_REQUEST", "the body has text that is not valid Unicode")
    return body


def string_field(body, name, max_length):
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise DomainError(
            "INVALID_REQUEST",
            f"'{name}' must be a non-empty string of at most {max_length} characters",
        )
    return value.strip()


def int_field(body, name, minimum, maximum):
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise DomainError(
            "INVALID_REQUEST", f"'{name}' must be a whole number from {minimum} to {maximum}"
        )
    return value

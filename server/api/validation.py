"""Reading request bodies strictly: the wrong shape is a 400 INVALID_REQUEST, never a 500."""
from flask import request

from ..errors import HttpError


def json_object():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise HttpError(400, "INVALID_REQUEST", "the body must be a JSON object")
    return body


def string_field(body, name, max_length):
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise HttpError(400, "INVALID_REQUEST", f"'{name}' must be a non-empty string of at "
                        f"most {max_length} characters")
    return value.strip()


def int_field(body, name, minimum, maximum):
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise HttpError(400, "INVALID_REQUEST",
                        f"'{name}' must be a whole number from {minimum} to {maximum}")
    return value

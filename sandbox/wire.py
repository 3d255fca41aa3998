"""Small helpers for what the simulator puts on the wire: JSON bytes, times, identifiers."""

import json
import secrets
from datetime import datetime, timedelta, timezone

from flask import Response, request
from werkzeug.exceptions import BadRequest

from server.wechatpay.crypto import V3_SCHEMA, nonce, now, rsa_sign, v3_response_message

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def json_bytes(obj):
    # WeChat sends UTF-8 as is (no \u escapes); signatures cover exactly these bytes.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(obj, status=200):
    return Response(json_bytes(obj), status=status, mimetype="application/json")


def control_body():
    """The JSON object a control request sent ({} for an empty body).

    Anything else is a 400 in the control error shape, never a 500: not JSON, not an object,
    or nested so deep that the parser gives up (RecursionError, which Flask's own
    ``get_json(silent=True)`` lets escape).
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def control_error(status, code, message):
    """Errors of the /sandbox/... control endpoints, in the backend's error shape."""
    return json_response({"error": {"code": code, "message": message}}, status)


def rfc3339(timestamp):
    return datetime.fromtimestamp(timestamp, BEIJING).isoformat(timespec="seconds")


def compact_time(timestamp):
    """yyyyMMddHHmmss in Beijing time, as in prepay_ids and v2 times."""
    return datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y%m%d%H%M%S")


def digits(count):
    return "".join(str(secrets.randbelow(10)) for _ in range(count))


def request_id():
    return secrets.token_hex(20).upper()


def signed_headers(signer, body):
    """The ``Wechatpay-*`` headers over ``body`` (bytes) with a fresh timestamp and nonce."""
    timestamp, nonce_str = now(), nonce(32)
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce_str,
        "Wechatpay-Signature": rsa_sign(
            signer.private_key, v3_response_message(timestamp, nonce_str, body)
        ),
        "Wechatpay-Serial": signer.serial,
        "Wechatpay-Signature-Type": V3_SCHEMA,
    }

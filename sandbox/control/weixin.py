"""Controls of the simulated WeChat server APIs (``sandbox.weixin``): what the phone does
(``wx.login`` codes, the user confirming receipt) and the state of the mini program's tokens
and shipping service.

``POST /sandbox/login-code`` ``{"openid"?, "expires_in"? (seconds), "blocked"?}``,
``POST /sandbox/shipping/confirm`` ``{"transaction_id" or "out_trade_no"}``,
``POST /sandbox/shipping/managed`` ``{"managed"}``, ``GET|POST /sandbox/access-token``
(call count; ``{"action": "expire"|"rotate"}``).
"""

import secrets
import string
import time

from flask import Blueprint, current_app, request

from server.wechatpay.crypto import nonce

from ..weixin import shipping as shipping_service
from ..weixin import tokens
from ..weixin.login import CODE_LIFETIME
from ..wire import control_body, control_error, json_response

_OPENID_CHARS = string.ascii_letters + string.digits + "-_"

bp = Blueprint("control_weixin", __name__, url_prefix="/sandbox")


def _state():
    return current_app.extensions["sandbox"]


@bp.post("/login-code")
def mint_code():
    """``{"openid"?, "unionid"?, "expires_in"? (seconds), "blocked"? (true gives 40226)}``
    -> ``{"code", "openid"}``; the openid is made up when not given. With a unionid (the mini
    program bound to an open-platform account), jscode2session answers it too."""
    data = control_body()
    openid = data.get("openid") or "o" + "".join(secrets.choice(_OPENID_CHARS) for _ in range(27))
    expires_in = data.get("expires_in", CODE_LIFETIME)
    unionid = data.get("unionid")
    if not isinstance(openid, str) or not isinstance(expires_in, (int, float)):
        return control_error(400, "INVALID_REQUEST", "openid must be a string, expires_in a number")
    if not isinstance(unionid or "", str):
        return control_error(400, "INVALID_REQUEST", "unionid must be a string")
    code = nonce(32)
    state = _state()
    with state.lock:
        state.codes[code] = {
            "openid": openid,
            "expires_at": time.time() + expires_in,
            "used": False,
            "blocked": bool(data.get("blocked")),
            "unionid": unionid or None,
        }
    return json_response({"code": code, "openid": openid})


@bp.post("/shipping/confirm")
def confirm_receipt():
    """The user confirms receipt (WeChat's component); the order settles at once."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return control_error(400, "INVALID_REQUEST", "the body must be a JSON object")
    if not isinstance(data.get("mchid") or "", str):
        return control_error(400, "INVALID_REQUEST", "mchid is a string")
    state = _state()
    with state.lock:
        order = state.order_by_reference(data, data.get("mchid") or None)
        shipping = shipping_service.store(state)["shipping"].get(
            (order or {}).get("transaction_id")
        )
        if shipping is None or shipping["order_state"] != 2:
            return control_error(
                409, "NOT_SHIPPED", "the order is not shipped, or already received"
            )
        shipping.update(order_state=4, received_at=time.time(), settled_at=time.time())
    shipping_service.push_settlement(state, order, shipping, shipped=False)
    return json_response({"transaction_id": order["transaction_id"], "order_state": 4})


@bp.post("/shipping/managed")
def set_managed():
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("managed"), bool):
        return control_error(400, "INVALID_REQUEST", 'send {"managed": true|false}')
    with _state().lock:
        shipping_service.store(_state())["managed"] = data["managed"]
    return json_response({"managed": data["managed"]})


@bp.route("/access-token", methods=["GET", "POST"])
def access_token_control():
    """GET: how often stable_token was called. POST {"action": "expire"}: the current token
    expires now (42001); {"action": "rotate"}: it was refreshed elsewhere (40001)."""
    state = _state()
    with state.lock:
        memory = tokens.store(state)
        if request.method == "POST":
            data = request.get_json(silent=True)
            action = data.get("action") if isinstance(data, dict) else None
            if action not in ("expire", "rotate") or memory["current"] is None:
                return control_error(
                    400,
                    "INVALID_REQUEST",
                    'action must be "expire" or "rotate", after a token was issued',
                )
            if action == "expire":
                memory["tokens"][memory["current"]] = time.time()
            else:
                memory["tokens"].pop(memory["current"])
                memory["current"] = tokens.mint(memory, time.time())
        return json_response({"stable_token_calls": memory["calls"]})

"""The simulator's own endpoints under /sandbox/...: the cashier, faults, inspection, reset.

These do not exist at WeChat; they let a developer or a test play the user and the network.
Errors use the backend's shape ``{"error": {"code", "message"}}``.

Cashier
    POST /sandbox/pay  {"pay_params" | "prepay_id" | "out_trade_no", "action": "pay" | "cancel"}
        -> 200 {"out_trade_no", "trade_state", "transaction_id"?, "event_id"?}
        Plays the user at WeChat's cashier. "pay_params" is the object the mini program hands
        to wx.requestPayment ({timeStamp, nonceStr, package, signType, paySign}); its paySign is
        checked as WeChat's client checks it (v3 RSA over appId, timeStamp, nonceStr, package
        with the merchant's certificate; v2 MD5/HMAC-SHA256 with the API key), and a wrong one
        fails like wx.requestPayment: 400 PAYSIGN_INVALID with "errMsg":
        "requestPayment:fail ...". "prepay_id" and "out_trade_no" skip that check (they play
        a user who pays some other way, e.g. a script or another device). "pay" marks the
        order SUCCESS and sends the payment notification (by the order's api_version) with
        retries until acknowledged;
        "cancel" leaves it NOTPAY and sends nothing. 404 PREPAY_NOT_FOUND, 400 PREPAY_EXPIRED
        (prepay_id older than 2 h), ORDER_EXPIRED (past time_expire), ORDER_CLOSED, ORDERPAID.

Faults: POST /sandbox/faults with one fault object or {"faults": [...]}; GET lists the armed
ones; DELETE disarms all. Every fault has "times" (default 1): how many requests or
notifications it affects before it disarms itself.
    {"kind": "api", "path": "/v3/pay/transactions/jsapi", "method": "POST"?,
     "status": 500?, "code": "SYSTEM_ERROR"?, "message": "..."?, "body": {...}?, "delay": 0?,
     "port": 8001?, "reset": false?}
        Matches requests whose path starts with "path" (and the method, and the port the
        request came in on, if given: with ``--backup-port`` one simulator serves WeChat's
        primary and backup domains, and "port" faults one of them). With "reset": true the
        connection is closed after the request arrived, without an answer: the client cannot
        tell whether it was processed (to make a base unreachable instead, stop it). With
        "delay" it first sleeps that many seconds (provoke client timeouts); with "status" it
        then answers that status instead of the real endpoint: "body" verbatim if given, else
        {"code", "message"} for /v3, {"errcode": int(code), "errmsg"} for /sns (give status
        200, as WeChat does), and for v2 paths a signed business error (return_code SUCCESS,
        result_code FAIL, err_code = "code", e.g. "SYSTEMERROR") or, without "code", a plain
        return_code FAIL. Without "status" the real endpoint answers after the delay.
    {"kind": "refund", "status": "PROCESSING"|"ABNORMAL"|"CLOSED", "out_trade_no"?}
        The next v3 refund ends in that status instead of SUCCESS; a PROCESSING one waits
        for POST /sandbox/refunds/<out_refund_no> {"status": "SUCCESS"|"ABNORMAL"|"CLOSED"}.
    {"kind": "notify", "action": ..., "out_trade_no": "..."?}   applies to the next
    payment notification (of that order, if given):
        "drop"        never deliver it (logged with error "dropped")
        "duplicate"   deliver "copies" (default 2) copies concurrently, each retried on its own
        "delay"       wait "seconds" before the first attempt
        "signtest"    first send one probe whose Wechatpay-Signature starts with
                      WECHATPAY/SIGNTEST/ (a merchant must reject it), then the real one
        "tamper"      first send one probe whose body was changed after signing, then the real
                      one. Combine with "drop" to deliver only the bad copy.
        Notification faults apply to refund notifications too (matched by out_trade_no).

Inspection and helpers
    GET  /sandbox/health                     -> {"ok": true, "appid", "mchid", "key_mode",
                                                 "public_key_mode"}
    GET  /sandbox/orders                     -> {"orders": [...]}
    GET  /sandbox/orders/<out_trade_no>      -> {"order": {...}} (404 ORDER_NOT_FOUND)
    POST /sandbox/orders/<out_trade_no>/expire  time_expire passes now: unpayable, closable
    GET  /sandbox/notifications[?out_trade_no=]  -> {"notifications": [attempt...]}, each
         {"url", "event_id", "out_trade_no", "attempt", "copy", "status", "error",
          "acknowledged", "fault", "time"}
    POST /sandbox/notify/<out_trade_no>      (re)send the payment notification of a paid order
    POST /sandbox/refunds/<out_refund_no>    settle a PROCESSING refund (see refund faults)
    POST /sandbox/bills/<YYYY-MM-DD>         make that day's bills disagree with the backend:
         {"kind": "payment", "total": fen, "out_trade_no"?}  a payment nobody ordered
         {"kind": "amount", "out_trade_no": ..., "total": fen}  that order's row shows another
                                                                amount
         {"kind": "refund", "refund": fen, "out_trade_no"?, "out_refund_no"?}  a refund only
                                                                WeChat knows
         -> 201 {"change": {...}} (the generated numbers); DELETE forgets the day's changes
    POST /sandbox/platform-certificate/rotate  sign with a new platform certificate from now on
    POST /sandbox/reset                      forget all state and faults, stop pending retries
"""

import secrets
import time
from datetime import date, datetime
from datetime import time as clock

from flask import Blueprint, current_app, request

from server.wechatpay.crypto import rsa_verify, v2_verify

from . import refunds
from .state import PAID_STATES, FaultError
from .wire import BEIJING, control_body, control_error, digits, json_response

bp = Blueprint("control", __name__, url_prefix="/sandbox")


def _state():
    return current_app.extensions["sandbox"]


def _public(order):
    shown = {key: value for key, value in order.items() if key != "request"}
    shown["refunds"] = [
        refunds.refund_view(refund)
        for refund in _state().refunds.values()
        if refund["out_trade_no"] == order["out_trade_no"]
    ]
    return shown


@bp.get("/health")
def health():
    config = _state().config
    return json_response(
        {
            "ok": True,
            "appid": config.appid,
            "mchid": config.mchid,
            "key_mode": config.key_mode,
            "public_key_mode": bool(config.public_key_mode),
        }
    )


@bp.post("/pay")
def cashier():
    data = control_body()
    action = data.get("action", "pay")
    if action not in ("pay", "cancel"):
        return control_error(400, "INVALID_REQUEST", 'action must be "pay" or "cancel"')
    if not all(isinstance(data.get(name) or "", str) for name in ("prepay_id", "out_trade_no")):
        return control_error(400, "INVALID_REQUEST", "prepay_id and out_trade_no are strings")
    state = _state()
    pay_params = data.get("pay_params")
    if pay_params is not None:
        failure = pay_sign_failure(state, pay_params)
        if failure:
            return json_response(
                {
                    "error": {
                        "code": "PAYSIGN_INVALID",
                        "message": failure,
                        "errMsg": f"requestPayment:fail {failure}",
                    }
                },
                400,
            )
        data = {"prepay_id": pay_params["package"].removeprefix("prepay_id=")}
    with state.lock:
        if data.get("prepay_id"):
            order = state.order_by_prepay(data["prepay_id"])
        else:
            order = state.orders.get(data.get("out_trade_no"))
        if order is None:
            return control_error(404, "PREPAY_NOT_FOUND", "no order has this prepay_id")
        now = time.time()
        if (
            data.get("prepay_id")
            and data["prepay_id"] != order["prepay_id"]
            or order["prepay_expires_at"] < now
        ):
            return control_error(400, "PREPAY_EXPIRED", "this prepay_id has expired")
        if order["trade_state"] in PAID_STATES:
            return control_error(400, "ORDERPAID", "the order is already paid")
        if order["trade_state"] == "CLOSED":
            return control_error(400, "ORDER_CLOSED", "the order is closed")
        if order["expire_at"] < now:
            return control_error(400, "ORDER_EXPIRED", "the order is past its time_expire")
        answer = {"out_trade_no": order["out_trade_no"], "trade_state": order["trade_state"]}
        if action == "pay":
            state.mark_paid(order)
            answer.update(trade_state="SUCCESS", transaction_id=order["transaction_id"])
    if action == "pay":
        answer["event_id"] = state.notify(order)
    return json_response(answer)


def pay_sign_failure(state, params):
    """Why WeChat's client would refuse these wx.requestPayment parameters, or None."""
    if not isinstance(params, dict) or not all(
        isinstance(params.get(name), str) and params[name]
        for name in ("timeStamp", "nonceStr", "package", "paySign")
    ):
        return "parameter error: timeStamp, nonceStr, package and paySign must be strings"
    if not params["package"].startswith("prepay_id="):
        return "parameter error: package should be prepay_id=..."
    appid = state.config.appid  # the client signs for the mini program it runs in
    sign_type = params.get("signType") or "MD5"
    if sign_type == "RSA":
        good = rsa_verify(
            state.config.merchant_public_key,
            f"{appid}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode(),
            params["paySign"],
        )
    elif sign_type in ("MD5", "HMAC-SHA256") and state.settings.get("WECHATPAY_API_KEY"):
        signed = {
            "appId": appid,
            **{
                name: params[name]
                for name in ("timeStamp", "nonceStr", "package", "signType")
                if name in params
            },
            "sign": params["paySign"],
        }
        good = v2_verify(signed, state.settings["WECHATPAY_API_KEY"], sign_type)
    else:
        return f"parameter error: signType {sign_type} is not supported"
    return None if good else "支付验证签名失败"


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults():
    state = _state()
    if request.method == "POST":
        data = control_body()
        specs = data.get("faults") if "faults" in data else [data]
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            return control_error(400, "INVALID_FAULT", "faults must be a list of objects")
        try:
            armed = [state.arm_fault(spec) for spec in specs]
        except (FaultError, TypeError, ValueError, AttributeError) as exc:
            return control_error(400, "INVALID_FAULT", str(exc))
        return json_response({"faults": armed}, 201)
    with state.lock:
        if request.method == "DELETE":
            state.faults.clear()
        return json_response({"faults": [dict(fault) for fault in state.faults]})


@bp.get("/orders")
def list_orders():
    with _state().lock:
        return json_response({"orders": [_public(o) for o in _state().orders.values()]})


@bp.get("/orders/<out_trade_no>")
def show_order(out_trade_no):
    with _state().lock:
        order = _state().orders.get(out_trade_no)
        if order is None:
            return control_error(404, "ORDER_NOT_FOUND", "no such out_trade_no")
        return json_response({"order": _public(order)})


@bp.post("/orders/<out_trade_no>/expire")
def expire_order(out_trade_no):
    with _state().lock:
        order = _state().orders.get(out_trade_no)
        if order is None:
            return control_error(404, "ORDER_NOT_FOUND", "no such out_trade_no")
        order["expire_at"] = time.time() - 1
        return json_response({"order": _public(order)})


@bp.get("/notifications")
def notifications():
    wanted = request.args.get("out_trade_no")
    with _state().lock:
        found = [dict(d) for d in _state().deliveries if wanted in (None, d["out_trade_no"])]
    return json_response({"notifications": found})


@bp.post("/notify/<out_trade_no>")
def resend_notification(out_trade_no):
    state = _state()
    with state.lock:
        order = state.orders.get(out_trade_no)
    if order is None:
        return control_error(404, "ORDER_NOT_FOUND", "no such out_trade_no")
    if order["trade_state"] not in PAID_STATES:
        return control_error(400, "ORDER_NOT_PAID", "only a paid order has a notification")
    return json_response({"out_trade_no": out_trade_no, "event_id": state.notify(order)})


@bp.post("/refunds/<out_refund_no>")
def settle_refund(out_refund_no):
    """Finish a refund left PROCESSING by a refund fault: {"status": SUCCESS|ABNORMAL|CLOSED}."""
    status = control_body().get("status")
    if not isinstance(status, str) or status not in refunds.FINAL_STATUSES:
        return control_error(400, "INVALID_REQUEST", "status must be SUCCESS, ABNORMAL or CLOSED")
    state = _state()
    with state.lock:
        refund = state.refunds.get(out_refund_no)
    if refund is None:
        return control_error(404, "REFUND_NOT_FOUND", "no such out_refund_no")
    try:
        refunds.settle_refund(state, refund, status)
    except ValueError as exc:
        return control_error(400, "REFUND_NOT_PROCESSING", str(exc))
    return json_response({"refund": refunds.refund_view(refund)})


@bp.post("/platform-certificate/rotate")
def rotate_platform_certificate():
    """Start signing with a new platform certificate (the old one stays listed)."""
    if _state().config.platform is None:
        return control_error(
            400,
            "NO_PLATFORM_CERTIFICATE",
            "SANDBOX_KEY_MODE=public-key: this merchant has no platform certificate",
        )
    return json_response({"serial_no": _state().rotate_platform_certificate()})


@bp.post("/reset")
def reset():
    _state().reset()
    return json_response({"ok": True})


BILL_CHANGE_KINDS = ("payment", "amount", "refund")


@bp.route("/bills/<day>", methods=["POST", "DELETE"])
def bill_changes(day):
    """Make a day's bills disagree with what the backend recorded (see the module doc)."""
    try:
        day = date.fromisoformat(day)
    except ValueError:
        return control_error(400, "INVALID_REQUEST", "the day must be YYYY-MM-DD")
    state = _state()
    if request.method == "DELETE":
        with state.lock:
            state.bill_changes.pop(day.isoformat(), None)
        return json_response({"ok": True})
    data = request.get_json(silent=True) or {}
    kind = data.get("kind")
    if kind not in BILL_CHANGE_KINDS:
        return control_error(400, "INVALID_REQUEST", "kind must be payment, amount or refund")
    amount_name = "refund" if kind == "refund" else "total"
    amount = data.get(amount_name)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return control_error(400, "INVALID_REQUEST", f"{amount_name} must be positive fen")
    if kind == "amount" and not isinstance(data.get("out_trade_no"), str):
        return control_error(400, "INVALID_REQUEST", "amount needs the out_trade_no to change")
    # At noon Beijing time of that day: well clear of the midnight edges.
    noon = datetime.combine(day, clock(12), tzinfo=BEIJING).timestamp()
    change = {
        "kind": kind,
        amount_name: amount,
        "paid_at": noon,
        "out_trade_no": data.get("out_trade_no") or "SIM" + digits(20),
        "transaction_id": "4200" + digits(24),
        "out_refund_no": data.get("out_refund_no") or "SIMR" + secrets.token_hex(8),
        "refund_id": "50" + digits(27),
    }
    with state.lock:
        state.bill_changes.setdefault(day.isoformat(), []).append(change)
    return json_response({"change": change}, 201)

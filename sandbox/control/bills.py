"""``POST|DELETE /sandbox/bills/<day>``: make a day's bills disagree with what the backend
recorded, so that reconciliation can be tested (see ``sandbox.control``)."""

import secrets
from datetime import date, datetime
from datetime import time as clock

from flask import Blueprint, current_app, request

from ..wire import BEIJING, control_error, digits, json_response

bp = Blueprint("control_bills", __name__, url_prefix="/sandbox")


def _state():
    return current_app.extensions["sandbox"]


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
            state.bill_changes.pop((state.config.mchid, day.isoformat()), None)
        return json_response({"ok": True})
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    kind = data.get("kind")
    if kind not in BILL_CHANGE_KINDS:
        return control_error(400, "INVALID_REQUEST", "kind must be payment, amount or refund")
    amount_name = "refund" if kind == "refund" else "total"
    amount = data.get(amount_name)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return control_error(400, "INVALID_REQUEST", f"{amount_name} must be positive fen")
    if kind == "amount" and not isinstance(data.get("out_trade_no"), str):
        return control_error(400, "INVALID_REQUEST", "amount needs the out_trade_no to change")
    if not all(isinstance(data.get(name) or "", str) for name in ("out_trade_no", "out_refund_no")):
        return control_error(400, "INVALID_REQUEST", "out_trade_no and out_refund_no are strings")
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
        state.bill_changes.setdefault((state.config.mchid, day.isoformat()), []).append(change)
    return json_response({"change": change}, 201)

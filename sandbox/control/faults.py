"""``POST|GET|DELETE /sandbox/faults``: arm, list and disarm faults (see ``sandbox.control``)."""

from flask import Blueprint, current_app, request

from ..state import FaultError
from ..wire import control_body, control_error, json_response

bp = Blueprint("control_faults", __name__, url_prefix="/sandbox")


def _state():
    return current_app.extensions["sandbox"]


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

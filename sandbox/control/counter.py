"""``POST /sandbox/counter/recall``: the next reverses answer "call again" (v2 ``recall=Y``,
v3 500 SYSTEM_ERROR) and do nothing, as WeChat's reverse may (``sandbox.pay.codepay``).

    {"times": n}   the next n reverses (default 1); 0 turns the switch off
    -> {"recall": n}
"""

from flask import Blueprint, current_app

from ..wire import control_body, control_error, json_response

bp = Blueprint("control_counter", __name__, url_prefix="/sandbox")


@bp.post("/counter/recall")
def recall():
    times = control_body().get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= 100:
        return control_error(400, "INVALID_REQUEST", "times must be 0..100")
    state = current_app.extensions["sandbox"]
    with state.lock:
        state.counter["recall"] = times
    return json_response({"recall": times})

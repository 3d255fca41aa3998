"""A local simulator of the WeChat servers, for development and tests only.

``create_app(settings=None)`` builds one simulator: mini-program login (``sandbox.login``),
WeChat Pay API v3 (``sandbox.v3``, with ``sandbox.refunds`` and ``sandbox.bills``), the
cashier, faults and inspection endpoints (``sandbox.control``, whose docstring lists them).
``python -m sandbox --port 8001`` serves it.
Settings and keys are read once here (``sandbox.config``); all state lives in one
``SandboxState`` (``sandbox.state``) at ``app.extensions["sandbox"]``, guarded by its lock.

How API v2 plugs in (``sandbox/v2.py``, optional)
    If the module ``sandbox.v2`` exists, ``create_app`` imports it and calls
    ``sandbox.v2.register(app)`` after everything else is set up. ``register`` should:

    - ``app.register_blueprint(...)`` its XML endpoints (/pay/..., /secapi/...). Those paths
      get API faults and the ``Request-ID`` header like every other path; nothing else of v3
      (signature checks, response signing) applies to them.
    - ``state = app.extensions["sandbox"]``; settings it needs are in ``state.settings``
      (e.g. ``state.settings["WECHATPAY_API_KEY"]``), parsed v3 config in ``state.config``.
    - store orders with ``state.add_order(order)``: a dict with at least ``out_trade_no``,
      ``api_version="v2"``, ``trade_state="NOTPAY"``, ``notify_url``, ``created_at`` and
      ``expire_at`` (unix seconds), plus any v2 fields (``sign_type``, ``total_fee``,
      ``openid``...). It gets a ``prepay_id`` (unless given) and ``prepay_expires_at``.
      Orders of both versions share ``state.orders`` (keyed by out_trade_no) under
      ``state.lock``; v3 endpoints ignore v2 orders.
    - ``state.notifiers["v2"] = notify_v2``, a function ``(state, order) -> event_id``. The
      cashier (``POST /sandbox/pay``) marks the order paid with ``state.mark_paid(order)``
      (``trade_state="SUCCESS"``, ``transaction_id``, ``paid_at`` unix, ``success_time``
      RFC3339, ``bank_type``) and then calls ``state.notifiers[order["api_version"]]``.
    - in ``notify_v2`` build the signed XML and hand it to
      ``state.deliver(url, body_bytes, headers, is_acknowledged, event_id=...,
      out_trade_no=..., tamper=...)``, which retries on WeChat's schedule (scaled by
      SANDBOX_TIME_SCALE) in a background thread, applies notification faults and logs
      every attempt. ``is_acknowledged(response) -> bool``: for v2, reply XML
      ``return_code`` is SUCCESS. Pass ``tamper(body) -> body`` to change a signed field.
    - optionally define ``fault_answer(fault) -> Response``: API faults with a status on paths
      outside /v3 and /sns are answered by it (e.g. a signed result_code FAIL with
      err_code = fault["code"]) instead of a plain return_code FAIL.
"""

import importlib
import socket
import time

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from . import config as config_module
from . import unsupported
from .login import wechat_error
from .state import SandboxState
from .wire import control_error, json_response, request_id


def create_app(settings=None):
    """One simulator. ``settings`` (env-style names) override the environment and ``.env``."""
    values = config_module.load_settings(settings)
    state = SandboxState(config_module.build_config(values), values)

    app = Flask(__name__, static_folder=None)
    app.extensions["sandbox"] = state
    register_blueprints(app)
    register_faults(app)
    register_errors(app)
    register_v2(app)
    return app


def register_blueprints(app):
    # refunds and bills add their routes to v3.bp, so they are imported before it is registered.
    from . import bills, control, login, miniapp, refunds, v3  # noqa: F401

    app.register_blueprint(login.bp)
    app.register_blueprint(miniapp.bp)
    app.register_blueprint(v3.bp)
    app.register_blueprint(control.bp)
    app.extensions["sandbox"].notifiers["v3"] = v3.notify_v3


def register_faults(app):
    @app.before_request
    def injected_api_fault():
        if request.path.startswith("/sandbox/"):
            return None
        port = int(request.environ.get("SERVER_PORT") or 0)
        fault = app.extensions["sandbox"].take_api_fault(request.method, request.path, port)
        if fault is None:
            return None
        if fault["delay"]:
            time.sleep(fault["delay"])
        if fault["reset"]:
            # The request arrived, but the connection drops before any answer: the client
            # cannot know whether it was processed (unlike a refused connection).
            request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            return Response(status=204)  # never sent: the socket is closed
        if fault.get("status") is None:
            return None
        return fault_response(fault, request.path)

    @app.after_request
    def add_request_id(response):
        response.headers.setdefault("Request-ID", request_id())
        return response


def fault_response(fault, path):
    status, code = fault["status"], fault.get("code") or "SYSTEM_ERROR"
    message = fault.get("message") or "系统错误"
    if "body" in fault:
        return json_response(fault["body"], status)
    if path.startswith("/sns/"):
        response = wechat_error(int(code) if str(code).lstrip("-").isdigit() else -1, message)
        response.status_code = status
        return response
    if not path.startswith("/v3/"):
        v2_answer = current_app.extensions["sandbox"].fault_answers.get("v2")
        if v2_answer is not None:
            return v2_answer(fault)  # signed business errors, in sandbox/v2.py
        xml = (
            f"<xml><return_code><![CDATA[FAIL]]></return_code>"
            f"<return_msg><![CDATA[{message}]]></return_msg></xml>"
        )
        return Response(xml.encode(), status=status, mimetype="text/xml")
    return json_response({"code": code, "message": message}, status)


def register_errors(app):
    @app.errorhandler(HTTPException)
    def http_error(error):
        if request.path.startswith("/sandbox/"):
            return control_error(
                error.code, error.name.upper().replace(" ", "_"), error.description
            )
        if error.code in (404, 405) and unsupported.is_v2_path(request.path):
            return unsupported.answer(request.path)  # XML, as v2 clients expect
        # WeChat answers unknown resources and wrong methods with its JSON error shape.
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 500: "SYSTEM_ERROR"}.get(
            error.code, "INVALID_REQUEST"
        )
        return json_response({"code": code, "message": error.description}, error.code)


def register_v2(app):
    try:
        v2 = importlib.import_module(f"{__name__}.v2")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.v2":
            raise
        return
    v2.register(app)
    if hasattr(v2, "fault_answer"):
        app.extensions["sandbox"].fault_answers["v2"] = v2.fault_answer

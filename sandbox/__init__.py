"""A local simulator of the WeChat servers, for development and tests only.

``create_app(settings=None)`` builds one simulator; ``python -m sandbox --port 8001`` serves
it. Its modules are grouped like WeChat's hosts and products:

- ``weixin/``: api.weixin.qq.com (mini-program login, access tokens, the shipping-info
  service, message pushes);
- ``pay/``: api.mch.weixin.qq.com, ``v3/`` (JSON) and ``v2/`` (XML), one module per product,
  with what both versions share (the refund record, the bill files);
- ``control/``: the simulator's own ``/sandbox/...`` endpoints (the cashier, faults,
  inspection, reset), which do not exist at WeChat;
- the core: ``config`` (settings and keys, read once here), ``state`` (all state, in one
  ``SandboxState`` at ``app.extensions["sandbox"]``, guarded by its lock), ``wire`` (bytes,
  times and identifiers on the wire), ``tls`` (HTTPS with client certificates), ``devkeys``
  (``python -m sandbox.devkeys``).

Everything is wired here, in the open, and nothing by being imported: ``register_blueprints``
lists every blueprint; ``register_notifiers`` says how each API version tells the merchant
about a paid order and a settled refund; ``fault_response`` picks the shape of an injected
error answer by the path's host and API. An endpoint module makes its blueprint with its API's
factory (``pay.v3.core.blueprint``: merchant signature checked, answer signed, WeChat's JSON
errors; ``pay.v2.core.blueprint``: WeChat's XML refusals, the ``/secapi/`` client
certificate), so a new product is a new module and one more line in the list.
"""

import socket
import time

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from . import config as config_module
from .control import bills as bill_controls
from .control import bridge, cashier, counter, faults, scan, simulator
from .control import orders as order_controls
from .control import weixin as weixin_controls
from .pay import h5 as h5_cashier
from .pay.v2 import bills as v2_bills
from .pay.v2 import codepay as v2_codepay
from .pay.v2 import core as v2_core
from .pay.v2 import orders as v2_orders
from .pay.v2 import refunds as v2_refunds
from .pay.v2 import unsupported
from .pay.v3 import bills as v3_bills
from .pay.v3 import certificates
from .pay.v3 import codepay as v3_codepay
from .pay.v3 import core as v3_core
from .pay.v3 import partner as v3_partner
from .pay.v3 import refunds as v3_refunds
from .pay.v3 import transactions as v3_transactions
from .state import Ambiguous, SandboxState
from .weixin import errors as weixin_errors
from .weixin import login, oauth, shipping, tokens
from .wire import control_error, json_response, request_id


def create_app(settings=None):
    """One simulator. ``settings`` (env-style names) override the environment and ``.env``."""
    values = config_module.load_settings(settings)
    state = SandboxState(config_module.build_config(values), values)

    app = Flask(__name__, static_folder=None)
    app.extensions["sandbox"] = state
    register_blueprints(app)
    register_notifiers(state)
    register_faults(app)
    register_errors(app)
    return app


def register_blueprints(app):
    for blueprint in (
        # api.weixin.qq.com
        login.bp,
        tokens.bp,
        oauth.bp,
        shipping.bp,
        # api.mch.weixin.qq.com, API v3
        certificates.bp,
        v3_transactions.bp,
        v3_codepay.bp,
        v3_partner.bp,
        v3_refunds.bp,
        v3_bills.bp,
        # api.mch.weixin.qq.com, API v2 (XML)
        v2_orders.bp,
        v2_codepay.bp,
        v2_refunds.bp,
        v2_bills.bp,
        # wx.tenpay.com: the H5 cashier
        h5_cashier.bp,
        # the simulator's own /sandbox/... endpoints
        cashier.bp,
        counter.bp,
        scan.bp,
        bridge.bp,
        faults.bp,
        order_controls.bp,
        bill_controls.bp,
        weixin_controls.bp,
        simulator.bp,
    ):
        app.register_blueprint(blueprint)


def register_notifiers(state):
    """How WeChat tells the merchant, per API version: a paid order (the cashier, the resend
    control) and a settled refund."""
    state.payment_notifiers.update(v3=v3_transactions.notify_payment, v2=v2_orders.notify_payment)
    state.refund_notifiers.update(v3=v3_refunds.notify_refund, v2=v2_refunds.notify_refund)


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
    """What an armed API fault with a status answers instead of the endpoint: its "body"
    verbatim, else an error in the shape of the path's API. /sns is the mini program's login
    (errcode JSON), /v3 WeChat Pay v3 (code/message JSON); every other path is answered as
    WeChat Pay v2 answers (XML: a signed business error, or a plain return_code FAIL)."""
    if "body" in fault:
        return json_response(fault["body"], fault["status"])
    if path.startswith("/sns/"):
        return weixin_errors.fault_answer(fault)
    if path.startswith("/v3/"):
        return v3_core.fault_answer(fault)
    return v2_core.fault_answer(fault)


def register_errors(app):
    @app.errorhandler(Ambiguous)
    def ambiguous(error):
        # Only the controls name an order or a refund without its merchant.
        return control_error(409, "MCHID_REQUIRED", str(error))

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

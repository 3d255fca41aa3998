"""A native app's API, for shops that also have an app (docs/web-shop.md has examples).

``POST /api/app/login`` signs the app's user in: the app gets a code from WeChat's SDK
(``SendAuth``, the open platform's mobile-app login), and the server exchanges it at
``/sns/oauth2/access_token`` with the app's appid and secret (``WECHAT_APP_APPID``,
``WECHAT_APP_SECRET``) for the user's openid under the app's appid and their unionid
(https://developers.weixin.qq.com/doc/oplatform/Mobile_App/WeChat_Login/Development_Guide.html).
The user is the (app's appid, openid) pair, one customer by unionid with the mini program's and
the official account's users (``server/domain/customers.py``); the answer is the API token
``POST /api/login`` gives.

``POST /api/app/orders`` places an order on the ``app`` channel (trade type APP, the mobile
app's appid) and answers the signed parameters the app passes to WeChat's SDK. The same as
``POST /api/orders`` otherwise: the bearer token's user (the app's, or the mini program's),
priced from the catalogue, the Idempotency-Key, the rate limits; the order is then read at
``GET /api/orders/<id>`` like any other. In a service provider's deployment the order is the
store's that sells the products (its sub_mchid on the app channel: docs/provider.md).
"""

from flask import Blueprint, abort, current_app, g, jsonify, request

from ..channels import checkout_context, store_of
from ..clients import app_login_api
from ..domain import addresses, checkout, customers
from ..errors import DomainError
from ..ratelimits import order_writes
from .auth import login_required, signed_in, wechat_login_errors
from .order_json import order_json
from .orders import _order_lines
from .validation import json_object, string_field

bp = Blueprint("app_orders", __name__)


@bp.post("/api/app/login")
def app_login():
    api = app_login_api()
    if not api.appid or not current_app.config.get("WECHAT_APP_SECRET"):
        abort(404, "this shop has no app sign-in (WECHAT_APP_APPID, WECHAT_APP_SECRET)")
    code = string_field(json_object(), "code", max_length=128)
    with wechat_login_errors("app sign-in (sns/oauth2/access_token)"):
        answer = api.exchange_code(code)
    openid, unionid = answer.get("openid"), answer.get("unionid")
    if not isinstance(openid, str) or not openid:
        raise DomainError("WECHAT_ERROR", "WeChat answered the sign-in without an openid")
    unionid = unionid if isinstance(unionid, str) and unionid else None
    return signed_in(customers.sign_in(api.appid, openid, unionid=unionid))


@bp.post("/api/app/orders")
@login_required
@order_writes
def create_app_order():
    key = checkout.idempotency_key(request.headers.get("Idempotency-Key"))
    body = json_object()
    lines = _order_lines(body)
    # Goods that ship need the delivery address, as in POST /api/orders.
    address = addresses.parse(body["address"]) if body.get("address") is not None else None
    done = checkout.create(
        g.user,
        lines,
        key=key,
        client_ip=request.remote_addr,
        context=checkout_context("app", store_of(lines)),  # a provider's: a store's order
        address=address,
    )
    body = {"order": order_json(done.order), "app_params": done.pay_params}
    return jsonify(body), 201 if done.created else 200

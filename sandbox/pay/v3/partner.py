"""A service provider's (服务商) v3 endpoints: ``/v3/pay/partner/transactions/...``.

The simulated merchant is then the provider: its keys sign (sp_mchid = WECHATPAY_MCHID), its
APIv3 key encrypts the notifications, ``SANDBOX_SP_APPIDS`` are the appids bound to it and
``SANDBOX_SUB_MERCHANTS`` its sub-merchants with theirs (``sandbox.config``). WeChat's checks,
as its partner pages and the community describe them (docs/provider.md, docs/simulator.md):

- ``sp_mchid`` is the signing merchant (MCH_NOT_EXISTS otherwise); ``sub_mchid`` a
  sub-merchant bound to it (the same answer otherwise: the relation does not exist);
- ``sp_appid`` bound to sp_mchid and ``sub_appid`` bound to sub_mchid, else
  APPID_MCHID_NOT_MATCH (the most reported failure of partner orders);
- the payer: exactly one of ``sp_openid`` / ``sub_openid`` for JSAPI (at most one otherwise),
  and ``sub_openid`` only with ``sub_appid`` (PARAM_ERROR otherwise).

Every product is the direct merchant's endpoint with these ids in place of appid and mchid:
JSAPI, APP, H5 and Native here (``partner_order`` then ``transactions.placed``), the payment
code and its reverse in ``codepay.py``; query and close are the direct ones' for the
sub-merchant. An order is kept under (sub_mchid, out_trade_no): a sub-merchant's numbers are
its own. Its dict is a direct order's with ``sp_mchid`` / ``sp_appid`` / ``sub_appid`` added, so
the cashier, refunds and bills serve both; its query answer and notification are the partner
shape (``partner_view``).
"""

from flask import current_app, g, request

from .core import ApiError, blueprint, json_body, param_error
from .transactions import TRADE_STATE_DESC, TRADE_TYPES, _validate_order, close, placed, query

bp = blueprint("v3_partner", __name__)
PARTNER = "/v3/pay/partner/transactions"
IDS = ("sp_appid", "sp_mchid", "sub_appid", "sub_mchid")


def _state():
    return current_app.extensions["sandbox"]


def check_sub_mchid(sub_mchid, sp_mchid=None):
    """The sub-merchant a request names, bound to the signing provider."""
    config = _state().config
    if not isinstance(sub_mchid, str) or not sub_mchid:
        raise param_error("sub_mchid", "is required")
    if (sp_mchid or g.mchid) != config.mchid:
        raise ApiError(400, "MCH_NOT_EXISTS", "服务商商户号不存在或与签名商户号不一致")
    if sub_mchid not in (config.sub_merchants or {}):
        raise ApiError(400, "MCH_NOT_EXISTS", "特约商户号不存在或与服务商无受理关系")
    return sub_mchid


def partner_order(params, validate, payer_required=False):
    """The order a partner body describes: its ids checked as WeChat checks them, the rest by
    the direct endpoint's ``validate(direct_params)`` (the provider's appid and mchid standing
    in there), then kept under the sub-merchant."""
    config = _state().config
    sp_mchid = params.get("sp_mchid")
    if not isinstance(sp_mchid, str) or not sp_mchid:
        raise param_error("/sp_mchid", "is required")
    sub_mchid = check_sub_mchid(params.get("sub_mchid"), sp_mchid)
    sp_appid, sub_appid = params.get("sp_appid"), params.get("sub_appid")
    if not isinstance(sp_appid, str) or not sp_appid:
        raise param_error("/sp_appid", "is required")
    payer = params.get("payer") if isinstance(params.get("payer"), dict) else {}
    given = [name for name in ("sp_openid", "sub_openid") if payer.get(name)]
    if len(given) > 1 or (payer_required and not given):
        raise param_error("/payer", "needs exactly one of sp_openid and sub_openid")
    if "sub_openid" in given and not sub_appid:
        raise param_error("/sub_appid", "is required with payer.sub_openid")
    if sp_appid not in config.sp_appids:
        raise ApiError(400, "APPID_MCHID_NOT_MATCH", "sp_appid和sp_mchid不匹配")
    if sub_appid is not None and sub_appid not in config.sub_merchants[sub_mchid]:
        raise ApiError(400, "APPID_MCHID_NOT_MATCH", "sub_appid和sub_mchid不匹配")
    direct = {k: v for k, v in params.items() if k not in IDS}
    direct.update(appid=config.appid, mchid=config.mchid)
    if given:
        direct["payer"] = {"openid": payer[given[0]]}
    order = validate(direct)
    order.update(appid=sp_appid, mchid=sub_mchid, sp_mchid=sp_mchid, sub_appid=sub_appid)
    order["request"] = params
    if given:
        order["payer"] = {given[0]: payer[given[0]]}
    return order


@bp.post(f"{PARTNER}/<kind>")
def place_order(kind):
    if kind not in TRADE_TYPES:
        raise ApiError(404, "NOT_FOUND", "请求的资源不存在")
    params = json_body()
    order = partner_order(
        params,
        lambda direct: _validate_order(direct, kind, _state().config),
        payer_required=kind == "jsapi",
    )
    return placed(order, params, kind)


def _query_ids():
    return check_sub_mchid(request.args.get("sub_mchid"), request.args.get("sp_mchid"))


@bp.get(f"{PARTNER}/out-trade-no/<out_trade_no>")
def query_by_out_trade_no(out_trade_no):
    return query(_query_ids(), out_trade_no=out_trade_no)


@bp.get(f"{PARTNER}/id/<transaction_id>")
def query_by_transaction_id(transaction_id):
    return query(_query_ids(), transaction_id=transaction_id)


@bp.post(f"{PARTNER}/out-trade-no/<out_trade_no>/close")
def close_order(out_trade_no):
    params = json_body()
    return close(check_sub_mchid(params.get("sub_mchid"), params.get("sp_mchid")), out_trade_no)


def partner_view(order):
    """A partner transaction object (query answer, decrypted notification): sp_appid,
    sp_mchid, sub_appid, sub_mchid, and payer.sp_openid or payer.sub_openid (wechatpay-go
    services/partnerpayments/models.go Transaction)."""
    view = {
        "sp_appid": order["appid"],
        "sp_mchid": order["sp_mchid"],
        "sub_mchid": order["mchid"],
        "out_trade_no": order["out_trade_no"],
        "trade_state": order["trade_state"],
        "trade_state_desc": TRADE_STATE_DESC.get(order["trade_state"], ""),
        "attach": order.get("attach", ""),
        "amount": {"total": order["amount"]["total"], "currency": "CNY", "payer_currency": "CNY"},
        "promotion_detail": [],
    }
    if order.get("sub_appid"):
        view["sub_appid"] = order["sub_appid"]
    if order.get("transaction_id"):
        payer = dict(order["payer"])
        if payer.get("openid"):
            # Whoever scanned a code or showed a payment code: an openid under the order's
            # appid, named the partner way.
            payer = {"sub_openid" if order.get("sub_appid") else "sp_openid": payer["openid"]}
        view.update(
            transaction_id=order["transaction_id"],
            trade_type=order["trade_type"],
            bank_type=order["bank_type"],
            success_time=order["success_time"],
            payer=payer,
        )
        view["amount"]["payer_total"] = order["amount"]["total"]
    return view


def paying_appid(order):
    """The appid a partner order's client pays in: sub_appid when the payer is a sub_openid
    (the sub-merchant's own app), sp_appid otherwise; paySign must name it."""
    return order["sub_appid"] if order["payer"].get("sub_openid") else order["appid"]

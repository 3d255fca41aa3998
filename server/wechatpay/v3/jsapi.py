"""JSAPI (mini program, official account): place an order, and sign the parameters the
client pays with (``wx.requestPayment``)."""

from .. import crypto
from ..core.errors import InvalidResponse
from ..core.types import CHINA


def order_body(gateway, request, **extra):
    """The fields every v3 order takes (JSAPI, Native, H5, APP): the gateway's ids (a direct
    merchant's appid and mchid, or a service provider's sp_ and sub_ ids: ``partner.py``), the
    order's, then ``extra`` (the product's own: payer, scene_info)."""
    body = {
        **gateway._order_ids(),
        "description": request.description,
        "out_trade_no": request.out_trade_no,
        "time_expire": request.time_expire.astimezone(CHINA).isoformat(timespec="seconds"),
        "notify_url": request.notify_url,
        "amount": {"total": request.total, "currency": "CNY"},
        **extra,
    }
    if request.attach:
        body["attach"] = request.attach
    return body


def paying_appid(gateway):
    """The appid the client pays in, which paySign covers: a sub-merchant's own (sub_appid)
    when the order names one, else the order's appid (a service provider's: its sp_appid);
    signed with the merchant's (the provider's) key all the same (docs/provider.md)."""
    return gateway.sub_appid or gateway.appid


class Jsapi:
    """``POST /v3/pay/transactions/jsapi`` (a provider's: ``.../partner/transactions/jsapi``)
    and the ``paySign`` of its prepay_id."""

    def place_order(self, request):
        body = order_body(self, request, payer=self._payer(request.openid))
        if request.client_ip:
            body["scene_info"] = {"payer_client_ip": request.client_ip}
        data = self._call("POST", f"{self.transactions_path}/jsapi", body, repeatable=False)
        prepay_id = (data or {}).get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise InvalidResponse("order response has no prepay_id")
        return prepay_id

    def pay_params(self, prepay_id):
        timestamp, nonce_str = str(crypto.now()), crypto.nonce()
        package = f"prepay_id={prepay_id}"
        return {
            "timeStamp": timestamp,
            "nonceStr": nonce_str,
            "package": package,
            "signType": "RSA",
            "paySign": crypto.v3_pay_sign(
                self.private_key, paying_appid(self), timestamp, nonce_str, package
            ),
        }

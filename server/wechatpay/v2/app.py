"""APP on v2: ``/pay/unifiedorder`` with trade_type APP, and the SDK's PayReq signed with the
API key over appid, partnerid, prepayid, package, noncestr and timestamp (products doc §3.2;
wechatpy/pay/api/order.py ``get_appapi_params``; the sign type is the merchant's)."""

from .. import crypto
from ..core.errors import InvalidResponse
from .jsapi import MAX_ATTACH_CHARS, MAX_BODY_CHARS, _client_ip, check_total
from .messages import check_notify_url, format_time


class App:
    def place_app_order(self, request):
        check_total(request.total)
        fields = {
            "body": request.description[:MAX_BODY_CHARS],
            "out_trade_no": request.out_trade_no,
            "total_fee": request.total,
            "spbill_create_ip": _client_ip(request.client_ip),
            "notify_url": check_notify_url(request.notify_url),
            "trade_type": "APP",
            "time_expire": format_time(request.time_expire),
        }
        if request.attach:
            fields["attach"] = request.attach[:MAX_ATTACH_CHARS]
        data = self._call("/pay/unifiedorder", fields, retry=False)
        prepay_id = data.get("prepay_id")
        if not prepay_id:
            raise InvalidResponse("unifiedorder (APP) answer has no prepay_id")
        return prepay_id

    def app_pay_params(self, prepay_id):
        # A service provider's order (docs/provider.md): the app's appid (sub_appid when the
        # order has one), the sub-merchant as partnerid, signed with the provider's API key.
        params = {
            "appid": self.sub_appid or self.appid,
            "partnerid": self.sub_mchid or self.mchid,
            "prepayid": prepay_id,
            "package": "Sign=WXPay",
            "noncestr": crypto.nonce(),
            "timestamp": str(crypto.now()),
        }
        params["sign"] = crypto.v2_sign(params, self.api_key, self.sign_type)
        return params

"""APP: ``POST /v3/pay/transactions/app`` returns a prepay_id; the native app passes appid,
partnerid, prepayid, package ``Sign=WXPay``, noncestr, timestamp and sign to WeChat's SDK
(products doc §3.2; wechatpay-go services/payments/app/api_app_request_payment.go). The appid
is the mobile app's (open platform), not the mini program's or the official account's."""

from .. import crypto
from ..core.errors import InvalidResponse
from .jsapi import order_body, paying_appid


class App:
    def place_app_order(self, request):
        body = order_body(self, request)
        data = self._call("POST", f"{self.transactions_path}/app", body, repeatable=False)
        prepay_id = (data or {}).get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise InvalidResponse("app order response has no prepay_id")
        return prepay_id

    def app_pay_params(self, prepay_id):
        """The SDK's PayReq: sign is RSA-SHA256 over appid, timestamp, noncestr, prepayid.
        For a service provider's order (docs/provider.md): appid the one the app pays in
        (sub_appid when the order has one), partnerid the sub-merchant's mchid, signed with
        the provider's key."""
        timestamp, nonce_str, appid = str(crypto.now()), crypto.nonce(), paying_appid(self)
        return {
            "appid": appid,
            "partnerid": self.sub_mchid or self.mchid,
            "prepayid": prepay_id,
            "package": "Sign=WXPay",
            "noncestr": nonce_str,
            "timestamp": timestamp,
            "sign": crypto.rsa_sign(
                self.private_key, f"{appid}\n{timestamp}\n{nonce_str}\n{prepay_id}\n"
            ),
        }

"""A service provider's (服务商) calls over API v2: the direct paths with the partner fields.

appid / mch_id are the provider's (its appid and mchid), ``sub_mch_id`` the sub-merchant's on
every request, ``sub_appid`` when the order has the sub-merchant's own appid; the payer is then
``sub_openid`` (an openid under sub_appid), else ``openid`` (under the provider's appid).
paySign's ``appId`` is sub_appid when the order had one: the classic "支付验证签名失败"
(binarywang/WxJava#555, yansongda/pay#412, w7corp/easywechat#2306; wechatpy's jsapi.py).
Source: https://pay.weixin.qq.com/doc/v2/partner/4011939925 (docs/provider.md).
"""

from .. import crypto


class PartnerFields:
    """Adds sub_mch_id (and sub_appid) to every request, as wechatpy's ``_request`` does; a
    gateway bound to no sub-merchant (the provider's whole bill) sends neither."""

    def _signed(self, fields, sign_type=None):
        extra = {}
        if self.sub_mchid:
            extra["sub_mch_id"] = self.sub_mchid
            if self.sub_appid:
                extra["sub_appid"] = self.sub_appid
        return super()._signed({**extra, **fields}, sign_type)


class PartnerJsapi:
    """unifiedorder with the payer as sub_openid under sub_appid, and paySign's appId."""

    def place_order(self, request):
        if not self.sub_mchid:
            raise ValueError("a service provider's order needs a sub_mchid (a store's channel)")
        return super().place_order(request)

    def _payer(self, openid):
        return {"sub_openid": openid} if self.sub_appid else {"openid": openid}

    def pay_params(self, prepay_id):
        params = {
            "timeStamp": str(crypto.now()),
            "nonceStr": crypto.nonce(),
            "package": f"prepay_id={prepay_id}",
            "signType": self.sign_type,
        }
        params["paySign"] = crypto.v2_sign(
            {"appId": self.sub_appid or self.appid, **params}, self.api_key, self.sign_type
        )
        return params

"""A service provider's (服务商) calls over API v2: the direct paths with the partner fields.

appid / mch_id are the provider's (its appid and mchid), ``sub_mch_id`` the sub-merchant's on
every request, ``sub_appid`` when the order has the sub-merchant's own appid; the payer is then
``sub_openid`` (an openid under sub_appid), else ``openid`` (under the provider's appid).
Every product (JSAPI, NATIVE, MWEB, APP unifiedorder, micropay and reverse, orderquery,
closeorder, refunds) is the direct merchant's call with these fields added.
paySign's ``appId`` is sub_appid when the order had one: the classic "支付验证签名失败"
(binarywang/WxJava#555, yansongda/pay#412, w7corp/easywechat#2306; wechatpy's jsapi.py); the
APP's PayReq names the sub-merchant as ``partnerid`` (``app.py``).
Sources: https://pay.weixin.qq.com/doc/v2/partner/4011939925 (unifiedorder),
https://pay.weixin.qq.com/doc/v2/partner/4011941293 (micropay),
https://pay.weixin.qq.com/doc/v2/partner/4011986561 (APP PayReq) (docs/provider.md).
"""

# What places an order (and so must name a sub-merchant: a provider cannot trade for itself).
PLACING = ("/pay/unifiedorder", "/pay/micropay")


class PartnerFields:
    """Adds sub_mch_id (and sub_appid) to every request, as wechatpy's ``_request`` does; a
    gateway bound to no sub-merchant (the provider's whole bill) sends neither, and cannot
    place an order."""

    def _call(self, path, fields, retry, session=None):
        if path in PLACING and not self.sub_mchid:
            raise ValueError("a service provider's order needs a sub_mchid (a store)")
        return super()._call(path, fields, retry, session)

    def _signed(self, fields, sign_type=None):
        extra = {}
        if self.sub_mchid:
            extra["sub_mch_id"] = self.sub_mchid
            if self.sub_appid:
                extra["sub_appid"] = self.sub_appid
        return super()._signed({**extra, **fields}, sign_type)

    def _payer(self, openid):
        return {"sub_openid": openid} if self.sub_appid else {"openid": openid}

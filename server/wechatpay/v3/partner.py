"""A service provider's (服务商) calls: the partner APIs, with sp_mchid and sub_mchid.

The gateway is the provider's (its mchid is the ``sp_mchid``, its keys sign and its APIv3 key
decrypts), bound per order to the appid it places for (``sp_appid``) and the sub-merchant
(``sub_mchid``, and its own ``sub_appid`` when the order has one): ``types.bound``.

Every product's call is the direct merchant's (``jsapi``, ``native``, ``h5``, ``app``,
``codepay``, ``transactions``, ``refunds``), with the ids this class gives in place of a
direct merchant's (``client.V3Client``): the paths under ``/v3/pay/partner/transactions``,
``sp_appid`` / ``sp_mchid`` / ``sub_mchid`` / [``sub_appid``] in an order's (and a reverse's)
body, ``sp_mchid`` + ``sub_mchid`` for a query or a close, ``sub_mchid`` on a refund. Answers
and notifications are the partner shape, read by ``transactions.parse_transaction``.

Sources (docs/provider.md has the full list): the partner JSAPI, APP, H5, Native, payment
code, query, close, refund and notification pages of pay.weixin.qq.com/docs/partner;
wechatpay-go ``services/partnerpayments`` (PrepayRequest, Payer, Transaction); wechatpayv3
``transaction.py`` (partner_mode); products brief section 5.

The payer: exactly one of ``sp_openid`` (an openid under sp_appid) or ``sub_openid`` (under
sub_appid, so only with it). This module sends ``sub_openid`` when the order has a sub_appid
(the customer pays in the sub-merchant's own app: the outsourcing shape), ``sp_openid``
otherwise (the provider's own app: the centralised shape); and paySign's ``appId`` is that
same appid, the one the client invokes payment from, signed with the provider's key
(``jsapi.paying_appid``).
"""

PARTNER = "/v3/pay/partner/transactions"


class Partner:
    """The ids of a service provider's requests, for the sub-merchant the gateway is bound to."""

    transactions_path = PARTNER

    def _sub_mchid(self):
        if not self.sub_mchid:
            # A provider cannot trade for itself: every order is a sub-merchant's.
            raise ValueError("a service provider's order needs a sub_mchid (a store)")
        return self.sub_mchid

    def _order_ids(self):
        ids = {"sp_appid": self.appid, "sp_mchid": self.mchid, "sub_mchid": self._sub_mchid()}
        if self.sub_appid:
            ids["sub_appid"] = self.sub_appid
        return ids

    def _merchant_ids(self):
        return {"sp_mchid": self.mchid, "sub_mchid": self._sub_mchid()}

    def _refund_ids(self):
        return {"sub_mchid": self._sub_mchid()}

    def _payer(self, openid):
        return {"sub_openid": openid} if self.sub_appid else {"sp_openid": openid}


class PartnerBills:
    """The provider's bills; a gateway bound to a sub-merchant asks for that sub-merchant's
    lines only (``sub_mchid``), one bound to none for every sub-merchant's."""

    def download_trade_bill(self, day):
        query = {"bill_date": day.isoformat(), "bill_type": "ALL", "tar_type": "GZIP"}
        if self.sub_mchid:
            query["sub_mchid"] = self.sub_mchid
        return self._download_bill("/v3/bill/tradebill", query)

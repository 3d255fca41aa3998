"""A service provider's (服务商) calls: the partner APIs, with sp_mchid and sub_mchid.

The gateway is the provider's (its mchid is the ``sp_mchid``, its keys sign and its APIv3 key
decrypts), bound per order to the appid it places for (``sp_appid``) and the sub-merchant
(``sub_mchid``, and its own ``sub_appid`` when the order has one): ``types.bound``.

Sources (docs/provider.md has the full list): the partner JSAPI, query, close, refund and
notification pages of pay.weixin.qq.com/docs/partner; wechatpay-go
``services/partnerpayments`` (PrepayRequest, Payer, Transaction); products brief section 5.

The payer: exactly one of ``sp_openid`` (an openid under sp_appid) or ``sub_openid`` (under
sub_appid, so only with it). This module sends ``sub_openid`` when the order has a sub_appid
(the customer pays in the sub-merchant's own app: the outsourcing shape), ``sp_openid``
otherwise (the provider's own app: the centralised shape); and paySign's ``appId`` is that
same appid, the one the client invokes payment from, signed with the provider's key.
"""

from dataclasses import replace
from urllib.parse import quote

from .. import checks, crypto
from ..core.errors import InvalidResponse, NotificationError
from ..core.types import CHINA, Notification, Transaction
from .client import parse_time
from .refunds import REFUNDS, parse_refund

PARTNER = "/v3/pay/partner/transactions"


class SubMerchant:
    """What every partner call needs: the sub-merchant the gateway is bound to."""

    def _sub_mchid(self):
        if not self.sub_mchid:
            # A provider cannot trade for itself: every order is a sub-merchant's.
            raise ValueError("a service provider's order needs a sub_mchid (a store's channel)")
        return self.sub_mchid


class PartnerJsapi(SubMerchant):
    """``POST /v3/pay/partner/transactions/jsapi`` and the ``paySign`` of its prepay_id."""

    def place_order(self, request):
        body = {
            "sp_appid": self.appid,
            "sp_mchid": self.mchid,
            "sub_mchid": self._sub_mchid(),
            "description": request.description,
            "out_trade_no": request.out_trade_no,
            "time_expire": request.time_expire.astimezone(CHINA).isoformat(timespec="seconds"),
            "notify_url": request.notify_url,
            "amount": {"total": request.total, "currency": "CNY"},
            "payer": (
                {"sub_openid": request.openid} if self.sub_appid else {"sp_openid": request.openid}
            ),
        }
        if self.sub_appid:
            body["sub_appid"] = self.sub_appid
        if request.attach:
            body["attach"] = request.attach
        if request.client_ip:
            body["scene_info"] = {"payer_client_ip": request.client_ip}
        data = self._call("POST", f"{PARTNER}/jsapi", body, repeatable=False)
        prepay_id = (data or {}).get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise InvalidResponse("order response has no prepay_id")
        return prepay_id

    def pay_params(self, prepay_id):
        # appId: the appid the client pays in (sub_appid when the order has one), the
        # signature the provider's (signing does not depend on the appid, only the merchant).
        timestamp, nonce_str = str(crypto.now()), crypto.nonce()
        package = f"prepay_id={prepay_id}"
        return {
            "timeStamp": timestamp,
            "nonceStr": nonce_str,
            "package": package,
            "signType": "RSA",
            "paySign": crypto.v3_pay_sign(
                self.private_key, self.sub_appid or self.appid, timestamp, nonce_str, package
            ),
        }


class PartnerTransactions(SubMerchant):
    """Query and close by out_trade_no (``sp_mchid`` + ``sub_mchid``), and the partner
    payment notification."""

    def query_order(self, out_trade_no):
        path = f"{PARTNER}/out-trade-no/{quote(out_trade_no, safe='')}"
        query = {"sp_mchid": self.mchid, "sub_mchid": self._sub_mchid()}
        return parse_partner_transaction(self._call("GET", path, query=query))

    def close_order(self, out_trade_no):
        path = f"{PARTNER}/out-trade-no/{quote(out_trade_no, safe='')}/close"
        self._call("POST", path, {"sp_mchid": self.mchid, "sub_mchid": self._sub_mchid()})

    def parse_payment_notification(self, headers, body):
        event_id, event_type, payload = self._open_notification(headers, body)
        try:
            transaction = parse_partner_transaction(payload)
        except (ValueError, InvalidResponse) as exc:
            raise NotificationError(
                f"decrypted resource is not a transaction: {exc}", "MALFORMED"
            ) from None
        return Notification(
            event_id=event_id, event_type=event_type, transaction=transaction, payload=payload
        )


class PartnerRefunds(SubMerchant):
    """Refunds of a sub-merchant's payments: the direct paths with ``sub_mchid`` (body on
    apply, query string on query). The refund notification is the direct one's (it names
    sp_mchid and sub_mchid; ``parse_refund`` reads them)."""

    def refund(self, request):
        body = {
            "sub_mchid": self._sub_mchid(),
            "out_trade_no": request.out_trade_no,
            "out_refund_no": request.out_refund_no,
            "amount": {"refund": request.refund, "total": request.total, "currency": "CNY"},
        }
        if request.reason:
            body["reason"] = request.reason
        if request.notify_url:
            body["notify_url"] = request.notify_url
        return self._ours(parse_refund(self._call("POST", REFUNDS, body)))

    def query_refund(self, out_refund_no):
        path = f"{REFUNDS}/{quote(out_refund_no, safe='')}"
        return self._ours(
            parse_refund(self._call("GET", path, query={"sub_mchid": self._sub_mchid()}))
        )

    def _ours(self, refund):
        # WeChat's answer to a request naming our sub_mchid is that sub-merchant's, whether
        # or not the answer repeats it.
        return replace(refund, sub_mchid=refund.sub_mchid or self.sub_mchid)

    def parse_refund_notification(self, headers, body):
        notification = super().parse_refund_notification(headers, body)
        sp_mchid = notification.payload.get("sp_mchid")
        if notification.refund.mchid is not None or not isinstance(sp_mchid, str):
            return notification
        # A partner refund notification names the provider as sp_mchid (no mchid).
        return replace(notification, refund=replace(notification.refund, mchid=sp_mchid[:32]))


class PartnerBills:
    """The provider's bills; a gateway bound to a sub-merchant asks for that sub-merchant's
    lines only (``sub_mchid``), one bound to none for every sub-merchant's."""

    def download_trade_bill(self, day):
        query = {"bill_date": day.isoformat(), "bill_type": "ALL", "tar_type": "GZIP"}
        if self.sub_mchid:
            query["sub_mchid"] = self.sub_mchid
        return self._download_bill("/v3/bill/tradebill", query)


def parse_partner_transaction(data):
    """A gateway Transaction from a partner transaction object: ``appid`` / ``mchid`` are the
    provider's (sp_appid, sp_mchid), ``openid`` the payer's sp_openid or sub_openid."""
    if not isinstance(data, dict):
        raise InvalidResponse("not a transaction object: not an object")
    payer = data.get("payer") or {}
    if not isinstance(payer, dict):
        raise InvalidResponse("not a transaction object: payer is not an object")
    amount = data.get("amount") or {}
    if not isinstance(amount, dict):
        raise InvalidResponse("not a transaction object: amount is not an object")
    if (amount.get("currency") or "CNY") != "CNY":
        raise InvalidResponse("not a transaction object: amount.currency is not CNY")
    total = amount.get("total")
    if total is not None and (
        isinstance(total, bool) or not isinstance(total, int) or not 0 <= total < 2**31
    ):
        raise InvalidResponse("not a transaction object: amount.total is not whole fen")
    try:
        openids = [
            checks.text(payer, name, checks.MAX_OPENID) for name in ("sp_openid", "sub_openid")
        ]
        return Transaction(
            out_trade_no=checks.text(data, "out_trade_no", checks.MAX_OUT_TRADE_NO, required=True),
            trade_state=checks.trade_state(data),
            appid=checks.text(data, "sp_appid", checks.MAX_ID),
            mchid=checks.text(data, "sp_mchid", checks.MAX_ID),
            total=total,
            transaction_id=checks.text(data, "transaction_id", checks.MAX_TRANSACTION_ID),
            openid=openids[1] or openids[0],
            success_time=parse_time(checks.text(data, "success_time", checks.MAX_TEXT)),
            trade_state_desc=checks.text(data, "trade_state_desc", checks.MAX_TEXT),
            sub_mchid=checks.text(data, "sub_mchid", checks.MAX_ID),
            sub_appid=checks.text(data, "sub_appid", checks.MAX_ID),
        )
    except ValueError as exc:
        raise InvalidResponse(f"not a transaction object: {exc}") from None

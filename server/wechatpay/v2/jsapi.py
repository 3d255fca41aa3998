"""JSAPI (mini program, official account): ``/pay/unifiedorder`` with trade_type JSAPI, and
the signed parameters the client pays with (``wx.requestPayment``)."""

import ipaddress

from .. import crypto
from ..core.errors import InvalidResponse
from .messages import check_notify_url, format_time

MAX_BODY_CHARS = 127
MAX_ATTACH_CHARS = 127


class Jsapi:
    """unifiedorder (JSAPI) and the ``paySign`` of its prepay_id."""

    def place_order(self, request):
        check_total(request.total)
        if request.attach and len(request.attach) > MAX_ATTACH_CHARS:
            raise ValueError("attach is longer than 127 characters")
        fields = {
            # WeChat allows 127 characters; the description is for display, so shorten it.
            "body": request.description[:MAX_BODY_CHARS],
            "out_trade_no": request.out_trade_no,
            "total_fee": request.total,
            "spbill_create_ip": _client_ip(request.client_ip),
            "notify_url": check_notify_url(request.notify_url),
            "trade_type": "JSAPI",
            **self._payer(request.openid),
            "time_expire": format_time(request.time_expire),
        }
        if request.attach:
            fields["attach"] = request.attach
        # Not retried: a lost answer is recovered by the caller (query, or /pay again).
        data = self._call("/pay/unifiedorder", fields, retry=False)
        prepay_id = data.get("prepay_id")
        if not prepay_id:
            raise InvalidResponse("unifiedorder answer has no prepay_id")
        return prepay_id

    def _payer(self, openid):
        return {"openid": openid}

    def pay_params(self, prepay_id):
        params = {
            "timeStamp": str(crypto.now()),
            "nonceStr": crypto.nonce(),
            "package": f"prepay_id={prepay_id}",
            "signType": self.sign_type,
        }
        # v2 paySign covers appId too, although wx.requestPayment is not given it: the app's
        # the client pays in (a sub-merchant's own sub_appid when the order has one).
        params["paySign"] = crypto.v2_sign(
            {"appId": self.sub_appid or self.appid, **params}, self.api_key, self.sign_type
        )
        return params


def check_total(total):
    if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
        raise ValueError("total must be a positive integer of fen")


def _client_ip(value):
    """spbill_create_ip: the payer's IP as the backend saw it; WeChat requires a valid one."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return "127.0.0.1"

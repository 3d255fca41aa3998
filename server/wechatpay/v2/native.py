"""Native (QR code), mode 2: ``/pay/unifiedorder`` with trade_type NATIVE and a product_id
answers a ``code_url`` valid for 2 hours (products doc §2.2,
https://pay.weixin.qq.com/doc/v2/partner/4011989242). Mode 1 (a permanent QR that calls the
merchant back) is legacy and not offered."""

from ..core.errors import InvalidResponse
from .jsapi import MAX_ATTACH_CHARS, MAX_BODY_CHARS, _client_ip, check_total
from .messages import check_notify_url, format_time

MAX_PRODUCT_ID_CHARS = 32


class Native:
    def place_native_order(self, request):
        check_total(request.total)
        product_id = (request.product_id or request.out_trade_no)[:MAX_PRODUCT_ID_CHARS]
        fields = {
            "body": request.description[:MAX_BODY_CHARS],
            "out_trade_no": request.out_trade_no,
            "total_fee": request.total,
            "spbill_create_ip": _client_ip(request.client_ip),
            "notify_url": check_notify_url(request.notify_url),
            "trade_type": "NATIVE",
            "product_id": product_id,
            "time_expire": format_time(request.time_expire),
        }
        if request.attach:
            fields["attach"] = request.attach[:MAX_ATTACH_CHARS]
        data = self._call("/pay/unifiedorder", fields, retry=False)
        code_url = data.get("code_url")
        if not code_url:
            raise InvalidResponse("unifiedorder (NATIVE) answer has no code_url")
        return code_url

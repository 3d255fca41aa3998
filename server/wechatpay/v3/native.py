"""Native (QR code): ``POST /v3/pay/transactions/native`` returns a ``code_url`` the shop shows
as a QR code; whoever scans it with WeChat pays (products doc §2.1,
https://pay.weixin.qq.com/docs/merchant/apis/native-payment/direct-jsons/native-prepay.html).

The code_url is valid for 2 hours and the order for its ``time_expire``; the same parameters
sent again before then are the same order, with a code_url to show again."""

from ..core.errors import InvalidResponse
from .jsapi import order_body


class Native:
    def place_native_order(self, request):
        body = order_body(self, request)
        data = self._call("POST", f"{self.transactions_path}/native", body, repeatable=False)
        code_url = (data or {}).get("code_url")
        if not isinstance(code_url, str) or not code_url.startswith("weixin://"):
            raise InvalidResponse("native order response has no code_url")
        return code_url

"""H5 (a phone's browser outside WeChat): ``POST /v3/pay/transactions/h5`` returns an
``h5_url`` the browser is sent to (products doc §3.1,
https://pay.weixin.qq.com/docs/merchant/products/h5-payment/apilist.html).

``scene_info.payer_client_ip`` is required and must be the address WeChat sees the payer at
(网络环境未能通过安全验证 otherwise); ``h5_info.type`` is ``Wap`` for a website. The h5_url
lives 5 minutes: it is asked for when the payer is about to use it."""

from ..core.errors import InvalidResponse
from .jsapi import order_body


class H5:
    def place_h5_order(self, request):
        body = order_body(
            self,
            request,
            scene_info={"payer_client_ip": request.client_ip or "", "h5_info": {"type": "Wap"}},
        )
        data = self._call("POST", f"{self.transactions_path}/h5", body, repeatable=False)
        h5_url = (data or {}).get("h5_url")
        if not isinstance(h5_url, str) or not h5_url.startswith(("https://", "http://")):
            raise InvalidResponse("h5 order response has no h5_url")
        return h5_url

"""H5 on v2: ``/pay/unifiedorder`` with trade_type MWEB and a ``scene_info`` JSON string
(``h5_info.type`` Wap) answers a ``mweb_url`` valid for 5 minutes; ``spbill_create_ip`` is the
payer's address (products doc §3.1, https://pay.weixin.qq.com/doc/v2/partner/4011939925)."""

import json

from ..core.errors import InvalidResponse
from .jsapi import MAX_ATTACH_CHARS, MAX_BODY_CHARS, _client_ip, check_total
from .messages import check_notify_url, format_time


class H5:
    def place_h5_order(self, request):
        check_total(request.total)
        fields = {
            "body": request.description[:MAX_BODY_CHARS],
            "out_trade_no": request.out_trade_no,
            "total_fee": request.total,
            "spbill_create_ip": _client_ip(request.client_ip),
            "notify_url": check_notify_url(request.notify_url),
            "trade_type": "MWEB",
            "scene_info": json.dumps({"h5_info": {"type": "Wap"}}, separators=(",", ":")),
            "time_expire": format_time(request.time_expire),
        }
        if request.attach:
            fields["attach"] = request.attach[:MAX_ATTACH_CHARS]
        data = self._call("/pay/unifiedorder", fields, retry=False)
        mweb_url = data.get("mweb_url")
        if not mweb_url:
            raise InvalidResponse("unifiedorder (MWEB) answer has no mweb_url")
        return mweb_url

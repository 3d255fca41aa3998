"""API v2 calls the simulator does not simulate, answered the way WeChat answers them: XML.

A v2 client parses every answer as XML, so a v3-style JSON 404 would confuse it (and some SDKs
then report a parse error instead of the refusal). For a real WeChat Pay v2 endpoint the
simulator has no model of (profit sharing, transfers, ... see sandbox/README.md), a correctly signed
request gets what a merchant without that product's permission gets: a signed
``result_code=FAIL`` with ``err_code=NOAUTH``; a request that is not signed v2 XML gets the
usual unsigned ``return_code=FAIL``. Any other path under a v2 prefix is not a WeChat endpoint
at all: HTTP 404 with a ``return_code=FAIL`` XML body. Paths outside the v2 prefixes (/v3, the
mini program's /sns, /cgi-bin, /wxa...) keep their own JSON errors.
"""

from .core import BusinessError, ReturnFail, return_fail, signed_request
from .core import answer as signed_answer

# WeChat Pay v2 endpoints that exist at WeChat but are not simulated (when a route for one of
# them is added, that route answers instead).
KNOWN_V2_ENDPOINTS = {
    "/pay/reverse",
    "/secapi/pay/refund",
    "/pay/refundquery",
    "/pay/downloadbill",
    "/pay/downloadfundflow",
    "/billcommentsp/batchquerycomment",
    "/tools/shorturl",
    "/tools/authcodetoopenid",
    "/payitil/report",
    "/mmpaymkttransfers/promotion/transfers",
    "/mmpaymkttransfers/gettransferinfo",
    "/mmpaymkttransfers/sendredpack",
    "/mmpaymkttransfers/gethbinfo",
    "/secapi/pay/profitsharing",
    "/pay/profitsharingquery",
    "/secapi/pay/multiprofitsharing",
    "/pay/profitsharingaddreceiver",
    "/pay/profitsharingremovereceiver",
    "/secapi/pay/profitsharingfinish",
    "/pay/closeorder_v2",
    "/pay/downloadbill_v2",
    "/risk/getpublickey",
    "/risk/getviolation",
    "/sandboxnew/pay/getsignkey",
}


# Where WeChat Pay's v2 XML API lives on api.mch.weixin.qq.com.
V2_PREFIXES = (
    "/pay/",
    "/secapi/",
    "/mmpaymkttransfers/",
    "/billcommentsp/",
    "/tools/",
    "/payitil/",
    "/risk/",
    "/sandboxnew/",
)


def is_v2_path(path):
    return path.startswith(V2_PREFIXES)


def answer(path):
    """The XML answer for a v2 path without a route."""
    if path.rstrip("/") not in KNOWN_V2_ENDPOINTS:
        response = return_fail("请求的接口不存在")
        response.status_code = 404
        return response
    try:
        _fields, sign_type = signed_request()
    except ReturnFail as refusal:
        return return_fail(str(refusal))
    return signed_answer(sign_type, error=BusinessError("NOAUTH", "商户无此接口权限"))

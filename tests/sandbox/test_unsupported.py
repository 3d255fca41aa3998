"""v2 calls the simulator does not simulate are answered in XML, as WeChat answers them."""

import pytest
import requests

from server.wechatpay import crypto
from server.wechatpay.v2.messages import xml_to_dict
from tests.support.v2 import signed, xml


@pytest.mark.parametrize("path", ["/pay/downloadbill_v2", "/tools/authcodetoopenid"])
@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_unsimulated_v2_endpoints_refuse_like_a_merchant_without_permission(
    sandbox, sandbox_settings, path, sign_type
):
    body = signed(sandbox_settings, sign_type, out_trade_no="MICROPAY0001", auth_code="134")
    response = requests.post(sandbox.url + path, data=body, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    answer = xml_to_dict(response.content, 65536)
    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "FAIL"
    assert answer["err_code"] == "NOAUTH"
    assert crypto.v2_verify(answer, sandbox_settings["WECHATPAY_API_KEY"], sign_type)


def test_unsigned_calls_get_return_code_fail(sandbox):
    response = requests.post(
        sandbox.url + "/tools/authcodetoopenid",
        data=xml({"appid": "wx0", "mch_id": "1"}),
        timeout=5,
    )
    answer = xml_to_dict(response.content, 65536)
    assert response.status_code == 200 and answer["return_code"] == "FAIL"


def test_unknown_paths_are_xml_404_but_v3_stays_json(sandbox):
    response = requests.post(sandbox.url + "/pay/nosuchthing", data=b"<xml/>", timeout=5)
    assert response.status_code == 404
    assert xml_to_dict(response.content, 65536)["return_code"] == "FAIL"
    for path in ("/v3/nosuchthing", "/cgi-bin/nosuchthing", "/nosuchthing"):
        other = requests.get(sandbox.url + path, timeout=5)
        assert other.status_code == 404 and other.json()["code"] == "NOT_FOUND"

"""API v2 signatures pinned to the official vectors (docs/protocol.md B2/B3), and the XML codec.

The expected strings are copied from the protocol reference; the pay-params check rebuilds
the signed string by hand with hashlib/hmac, independently of ``crypto.v2_sign_string``.
"""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from server.wechatpay import crypto
from server.wechatpay.v2 import V2Gateway
from server.wechatpay.v2.messages import (
    XmlError,
    check_notify_url,
    dict_to_xml,
    format_time,
    parse_time,
    xml_to_dict,
)

OFFICIAL = {
    "appid": "wxd930ea5d5a258f4f",
    "mch_id": "10000100",
    "device_info": "1000",
    "body": "test",
    "nonce_str": "ibuaiVcKdpRxkhJA",
}
OFFICIAL_KEY = "192006250b4c09247ec02edce69f6a2d"


def test_official_example_string_a():
    assert crypto.v2_sign_string(OFFICIAL, OFFICIAL_KEY) == (
        "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100"
        "&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d"
    )


def test_official_example_md5():
    assert crypto.v2_sign(OFFICIAL, OFFICIAL_KEY, "MD5") == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_official_example_hmac_sha256():
    assert crypto.v2_sign(OFFICIAL, OFFICIAL_KEY, "HMAC-SHA256") == (
        "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    )


def test_sign_ignores_sign_and_empty_values():
    noisy = {**OFFICIAL, "sign": "whatever", "attach": "", "detail": None}
    assert crypto.v2_sign(noisy, OFFICIAL_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_miniprogram_pay_sign_example():
    fields = {
        "appId": "wxd678efh567hg6787",
        "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "package": "prepay_id=wx2017033010242291fcfe0db70013231072",
        "signType": "MD5",
        "timeStamp": "1490840662",
    }
    key = "qazwsxedcrfvtgbyhnujmikolp111111"
    assert crypto.v2_sign_string(fields, key) == (
        "appId=wxd678efh567hg6787&nonceStr=5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
        "&package=prepay_id=wx2017033010242291fcfe0db70013231072&signType=MD5"
        "&timeStamp=1490840662&key=qazwsxedcrfvtgbyhnujmikolp111111"
    )
    assert crypto.v2_sign(fields, key) == "22D9B4E54AB1950F51E0649E8810ACD6"


@pytest.mark.parametrize(
    "sign_type, expected",
    [
        ("MD5", "1E3A8D73B5A4AEE787C0F68B5DAB8520"),
        ("HMAC-SHA256", "EDAC6D70D2FDF5A2382F8204FC96A1918017E46ACC5297F565ED1A7610ACF659"),
    ],
)
def test_wechatpy_unit_vectors(sign_type, expected):
    assert crypto.v2_sign({"test1": "test1", "test2": "test2"}, OFFICIAL_KEY, sign_type) == expected


def test_verify_is_case_insensitive_on_hex_and_refuses_tampering():
    signed = {**OFFICIAL, "sign": "9a0a8659f005d6984697e2ca0a9cf3b7"}
    assert crypto.v2_verify(signed, OFFICIAL_KEY, "MD5")
    assert not crypto.v2_verify({**signed, "body": "test2"}, OFFICIAL_KEY, "MD5")
    assert not crypto.v2_verify(signed, OFFICIAL_KEY, "HMAC-SHA256")
    assert not crypto.v2_verify(OFFICIAL, OFFICIAL_KEY, "MD5")  # no sign at all


def _by_hand(params, key, sign_type):
    """The B3 signed string written out field by field, not through v2_sign_string."""
    text = (
        f"appId={params['appId']}&nonceStr={params['nonceStr']}&package={params['package']}"
        f"&signType={params['signType']}&timeStamp={params['timeStamp']}&key={key}"
    ).encode()
    if sign_type == "MD5":
        return hashlib.md5(text).hexdigest().upper()
    return hmac.new(key.encode(), text, hashlib.sha256).hexdigest().upper()


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_pay_params_are_signed_over_app_id_and_the_four_fields(sign_type):
    gateway = V2Gateway(
        appid="wxd678efh567hg6787",
        mchid="1900000109",
        api_key="qazwsxedcrfvtgbyhnujmikolp111111",
        sign_type=sign_type,
    )
    params = gateway.pay_params("wx2017033010242291fcfe0db70013231072")
    assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["package"] == "prepay_id=wx2017033010242291fcfe0db70013231072"
    assert params["signType"] == sign_type
    assert params["timeStamp"].isdigit() and isinstance(params["timeStamp"], str)
    assert 16 <= len(params["nonceStr"]) <= 32
    params_with_app = {**params, "appId": "wxd678efh567hg6787"}
    assert params["paySign"] == _by_hand(
        params_with_app, "qazwsxedcrfvtgbyhnujmikolp111111", sign_type
    )


def test_xml_round_trip_keeps_text_cdata_terminators_and_integers():
    fields = {"body": "咖啡 <大杯> & ]]> 冰", "total_fee": 101, "openid": "o-abc"}
    xml = dict_to_xml(fields)
    assert b"<total_fee>101</total_fee>" in xml
    assert xml_to_dict(xml, 4096) == {
        "body": "咖啡 <大杯> & ]]> 冰",
        "total_fee": "101",
        "openid": "o-abc",
    }


def test_xml_reader_accepts_wechat_style_documents():
    sample = (
        b"<xml>\n  <return_code><![CDATA[SUCCESS]]></return_code>\n"
        b"  <return_msg><![CDATA[OK]]></return_msg>\n  <total_fee>1</total_fee>\n"
        b"  <attach></attach>\n</xml>"
    )
    assert xml_to_dict(sample, 4096) == {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "total_fee": "1",
        "attach": "",
    }


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"not xml",
        b"<xml><a>1</a>",
        b"<root><a>1</a></root>",
        b"<xml><a>1</a><a>2</a></xml>",  # repeated field
        b"<xml><a><b>1</b></a></xml>",  # nested field
        b'<!DOCTYPE xml [<!ENTITY e "x">]><xml><a>&e;</a></xml>',
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/x.dtd"><xml><a>1</a></xml>',
        b"<xml><a>\xff\xfe</a></xml>",  # not UTF-8
    ],
)
def test_xml_reader_refuses(document):
    with pytest.raises(XmlError):
        xml_to_dict(document, 4096)


def test_xml_reader_refuses_oversized_bodies():
    with pytest.raises(XmlError):
        xml_to_dict(b"<xml><a>" + b"x" * 5000 + b"</a></xml>", 4096)


def test_times_are_beijing_time():
    moment = datetime(2026, 11, 22, 4, 30, 5, tzinfo=UTC)
    assert format_time(moment) == "20261122123005"
    assert parse_time("20261122123005") == moment
    assert parse_time("20261122123005").utcoffset() == timedelta(hours=8)
    with pytest.raises(ValueError):
        format_time(datetime(2026, 11, 22, 12, 30, 5))  # naive
    with pytest.raises(ValueError):
        parse_time("2026-11-22 12:30")


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com/api/pay/notify?x=1",
        "https://shop.example.com/api/pay/notify#frag",
        "ftp://shop.example.com/notify",
        "/api/pay/notify",
        "",
        "https://shop.example.com/" + "n" * 300,
    ],
)
def test_notify_url_must_have_no_query_string(url):
    with pytest.raises(ValueError):
        check_notify_url(url)


def test_notify_url_accepted():
    url = "https://shop.example.com/api/pay/notify"
    assert check_notify_url(url) == url

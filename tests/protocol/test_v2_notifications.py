"""V2Gateway.parse_payment_notification: what it accepts, and everything it must refuse.

Notifications are built here the way docs/protocol.md B5 describes them and signed with the v2
algorithm (pinned to the official vectors in test_v2_crypto.py).
"""

from datetime import UTC, datetime, timedelta

import pytest

from server.wechatpay import crypto
from server.wechatpay.core.errors import NotificationError
from server.wechatpay.v2 import V2Gateway
from server.wechatpay.v2.messages import dict_to_xml, xml_to_dict

APPID, MCHID = "wx8888888888888888", "1900000109"
KEY = "0123456789abcdef0123456789abcdef"


def gateway(sign_type="MD5"):
    return V2Gateway(
        appid=APPID, mchid=MCHID, api_key=KEY, sign_type=sign_type, api_base="http://127.0.0.1:9"
    )


def fields(**changes):
    base = {
        "appid": APPID,
        "mch_id": MCHID,
        "nonce_str": crypto.nonce(),
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "openid": "o-buyer",
        "is_subscribe": "N",
        "trade_type": "JSAPI",
        "bank_type": "CMC",
        "total_fee": "2590",
        "cash_fee": "2590",
        "fee_type": "CNY",
        "transaction_id": "4200000001202611221234567890",
        "out_trade_no": "T20261122000001",
        "time_end": "20261122123005",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(sign_type="MD5", with_field=None, key=KEY, **changes):
    """XML bytes signed with ``sign_type``; ``with_field`` puts a sign_type field in."""
    data = fields(**changes)
    if with_field:
        data["sign_type"] = with_field
    data["sign"] = crypto.v2_sign(data, key, sign_type)
    return dict_to_xml(data)


def refused(gw, body):
    with pytest.raises(NotificationError) as info:
        gw.parse_payment_notification({}, body)
    return info.value.code


@pytest.mark.parametrize(
    "sign_type, field",
    [("MD5", None), ("MD5", "MD5"), ("HMAC-SHA256", None), ("HMAC-SHA256", "HMAC-SHA256")],
)
def test_accepts_a_correctly_signed_notification(sign_type, field):
    notification = gateway(sign_type).parse_payment_notification({}, signed(sign_type, field))
    assert notification.event_id == "4200000001202611221234567890"
    assert notification.event_type == "TRANSACTION.SUCCESS"
    t = notification.transaction
    assert (t.out_trade_no, t.trade_state, t.total, t.appid, t.mchid, t.openid) == (
        "T20261122000001",
        "SUCCESS",
        2590,
        APPID,
        MCHID,
        "o-buyer",
    )
    assert t.transaction_id == "4200000001202611221234567890"
    assert t.success_time == datetime(2026, 11, 22, 4, 30, 5, tzinfo=UTC)
    assert t.success_time.utcoffset() == timedelta(hours=8)
    assert notification.payload["bank_type"] == "CMC"


def test_sign_type_field_names_the_other_algorithm():
    # Configured HMAC, but WeChat says (inside the signed set) it used MD5: honoured.
    gw = gateway("HMAC-SHA256")
    assert gw.parse_payment_notification({}, signed("MD5", "MD5")).transaction.total == 2590


def test_unknown_fields_are_part_of_the_signed_set():
    gw = gateway()
    body = signed(coupon_fee="10", coupon_count="1", settlement_total_fee="2580")
    assert gw.parse_payment_notification({}, body).payload["coupon_fee"] == "10"


def test_refuses_a_bad_sign():
    data = fields()
    data["sign"] = "0" * 32
    assert refused(gateway(), dict_to_xml(data)) == "SIGNATURE_INVALID"


def test_refuses_a_missing_sign():
    assert refused(gateway(), dict_to_xml(fields())) == "SIGNATURE_INVALID"


def test_refuses_another_key():
    assert refused(gateway(), signed(key="f" * 32)) == "SIGNATURE_INVALID"


def test_md5_without_a_sign_type_field_is_accepted_on_an_hmac_deployment():
    # Protocol B5: some notifications are MD5-signed even for HMAC merchants; the fallback
    # still needs the API key.
    gw = gateway("HMAC-SHA256")
    assert gw.parse_payment_notification({}, signed("MD5")).transaction.total == 2590
    assert refused(gw, signed("MD5", key="f" * 32)) == "SIGNATURE_INVALID"


def test_refuses_the_wrong_sign_type():
    # MD5 configured, an HMAC-signed body that says nothing: only MD5 is tried.
    assert refused(gateway("MD5"), signed("HMAC-SHA256")) == "SIGNATURE_INVALID"


def test_refuses_a_sign_type_field_that_lies():
    # Signed with MD5 but claims HMAC-SHA256 (and vice versa).
    assert refused(gateway("MD5"), signed("MD5", "HMAC-SHA256")) == "SIGNATURE_INVALID"
    assert refused(gateway("HMAC-SHA256"), signed("HMAC-SHA256", "MD5")) == "SIGNATURE_INVALID"


def test_refuses_an_unknown_sign_type():
    assert refused(gateway(), signed("MD5", "SHA1")) == "SIGNATURE_INVALID"


@pytest.mark.parametrize(
    "name, value",
    [("total_fee", "1"), ("out_trade_no", "T2"), ("result_code", "FAIL"), ("appid", "wx0")],
)
def test_refuses_a_tampered_field(name, value):
    data = xml_to_dict(signed(), 65536)
    data[name] = value
    assert refused(gateway(), dict_to_xml(data)) == "SIGNATURE_INVALID"


def test_refuses_an_added_field():
    data = xml_to_dict(signed(), 65536)
    data["attach"] = "injected"
    assert refused(gateway(), dict_to_xml(data)) == "SIGNATURE_INVALID"


def test_refuses_a_repeated_field_even_if_one_copy_is_signed():
    body = signed().replace(b"</xml>", b"<total_fee>1</total_fee></xml>")
    assert refused(gateway(), body) == "MALFORMED"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"id": 1}',
        b"<xml><return_code>SUCCESS",
        b"<html><body>hi</body></html>",
        "<xml>\u00e9</xml>",
    ],
)
def test_refuses_malformed_xml(body):
    assert refused(gateway(), body) == "MALFORMED"


def test_refuses_an_xml_bomb():
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE xml [\n<!ENTITY a "aaaaaaaaaa">\n'
        + b"".join(
            b'<!ENTITY %c "%s">\n' % (ord("b") + i, (b"&%c;" % (ord("a") + i)) * 10)
            for i in range(9)
        )
        + b"]>\n<xml><return_code>&j;</return_code></xml>"
    )
    assert refused(gateway(), bomb) == "MALFORMED"


def test_refuses_an_external_entity():
    body = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<xml><return_code>&x;</return_code></xml>"
    )
    assert refused(gateway(), body) == "MALFORMED"


def test_refuses_any_doctype_even_a_harmless_one():
    body = b"<!DOCTYPE xml>" + signed()
    assert refused(gateway(), body) == "MALFORMED"


def test_refuses_an_oversized_body():
    body = signed(attach="x" * (64 * 1024))
    assert refused(gateway(), body) == "MALFORMED"


def test_refuses_a_notification_for_another_appid():
    assert refused(gateway(), signed(appid="wx0000000000000000")) == "MERCHANT_MISMATCH"


def test_refuses_a_notification_for_another_mch_id():
    assert refused(gateway(), signed(mch_id="1900000001")) == "MERCHANT_MISMATCH"


def test_refuses_a_notification_whose_return_code_is_fail():
    assert refused(gateway(), signed(return_code="FAIL")) == "NOT_SUCCESS"


@pytest.mark.parametrize(
    "changes",
    [
        {"total_fee": "25.90"},
        {"total_fee": None},
        {"total_fee": "-1"},
        {"transaction_id": None},
        {"out_trade_no": None},
        {"time_end": "2026-11-22"},
        {"fee_type": "USD"},
    ],
)
def test_refuses_signed_but_malformed_content(changes):
    assert refused(gateway(), signed(**changes)) == "MALFORMED"


def test_replies_are_the_documented_xml():
    gw = gateway()
    ok = gw.notification_reply(True)
    assert ok.status == 200 and ok.content_type == "application/xml"
    assert ok.body == (
        b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
        b"<return_msg><![CDATA[OK]]></return_msg></xml>"
    )
    fail = gw.notification_reply(False, "amount ]]> mismatch")
    assert fail.status == 400 and fail.content_type == "application/xml"
    assert xml_to_dict(fail.body, 4096) == {
        "return_code": "FAIL",
        "return_msg": "amount ]]> mismatch",
    }


def test_a_signed_report_of_a_failed_payment_is_understood_not_refused():
    body = signed(result_code="FAIL", err_code="NOTENOUGH", transaction_id=None)
    notification = gateway().parse_payment_notification({}, body)
    assert notification.event_type == "TRANSACTION.FAIL"
    assert notification.transaction.trade_state == "PAYERROR"

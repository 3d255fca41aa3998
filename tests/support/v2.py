"""API v2 (XML) for the tests: signed requests to the simulator, and on a v2 stack the checkout,
the payment notification WeChat would send, and the backend's XML refusal."""

import requests

from server.wechatpay import crypto
from server.wechatpay.v2.messages import dict_to_xml, xml_to_dict


def xml(fields):
    return (
        "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()) + "</xml>"
    ).encode()


def signed(settings, sign_type="MD5", key=None, **fields):
    data = {
        "appid": settings["WECHAT_APPID"],
        "mch_id": settings["WECHATPAY_MCHID"],
        "nonce_str": crypto.nonce(),
        **fields,
    }
    if sign_type != "MD5":
        data["sign_type"] = sign_type
    data["sign"] = crypto.v2_sign(data, key or settings["WECHATPAY_API_KEY"], sign_type)
    return xml(data)


# --- a v2 stack (make_stack(WECHATPAY_API_VERSION="v2")) ---


def sign_type(stack):
    return stack.settings["WECHATPAY_V2_SIGN_TYPE"]


def verify_pay_params(stack, pay_params):
    """v2 paySign: the v2 sign over appId, timeStamp, nonceStr, package, signType (B3)."""
    assert set(pay_params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert pay_params["signType"] == sign_type(stack)
    assert pay_params["package"].startswith("prepay_id=wx")
    signed = {"appId": stack.settings["WECHAT_APPID"], **pay_params, "sign": pay_params["paySign"]}
    del signed["paySign"]
    assert crypto.v2_verify(signed, stack.settings["WECHATPAY_API_KEY"], sign_type(stack))


def new_order(stack):
    auth = stack.login()
    response = stack.create_order(auth)
    assert response.status_code == 201, response.text
    created = response.json()
    verify_pay_params(stack, created["pay_params"])
    return auth, created


def notification(stack, order, **changes):
    """A v2 payment notification for ``order``, signed with the merchant's key (B5)."""
    fields = {
        "appid": stack.settings["WECHAT_APPID"],
        "mch_id": stack.settings["WECHATPAY_MCHID"],
        "nonce_str": crypto.nonce(),
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "openid": "oAnyone",
        "is_subscribe": "N",
        "trade_type": "JSAPI",
        "bank_type": "OTHERS",
        "total_fee": order["total"],
        "cash_fee": order["total"],
        "fee_type": "CNY",
        "transaction_id": "4200000000202611220000000001",
        "out_trade_no": order["out_trade_no"],
        "time_end": "20261122123005",
        **changes,
    }
    if sign_type(stack) != "MD5":
        fields["sign_type"] = sign_type(stack)
    fields["sign"] = crypto.v2_sign(fields, stack.settings["WECHATPAY_API_KEY"], sign_type(stack))
    return dict_to_xml(fields)


def post_notification(stack, body):
    return requests.post(
        f"{stack.backend}/api/pay/notify",
        data=body,
        headers={"Content-Type": "text/xml"},
        timeout=10,
    )


def assert_refused(response):
    """The backend's refusal: an XML FAIL (never JSON), so WeChat retries."""
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/xml")
    reply = xml_to_dict(response.content, 4096)
    assert reply["return_code"] == "FAIL" and reply["return_msg"]
    return reply["return_msg"]

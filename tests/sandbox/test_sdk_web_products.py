"""A third-party SDK places the web shop's products against the simulator, unchanged but the
base URL: wechatpayv3's Native, H5 and APP orders (docs/web-shop.md), then queries them."""

import json

import pytest

from tests.support.sdk import make_sdk

try:
    from wechatpayv3 import WeChatPayType
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    WeChatPayType = None

NOTIFY = "https://shop.test/api/pay/notify/web"


def place(sdk, out_trade_no, pay_type, **extra):
    code, message = sdk.pay(
        description="网店 SDK",
        out_trade_no=out_trade_no,
        amount={"total": 1250},
        notify_url=NOTIFY,
        pay_type=pay_type,
        **extra,
    )
    assert code == 200, message
    return json.loads(message)


@pytest.mark.parametrize("public_key_mode", [True, False])
def test_wechatpayv3_places_native_h5_and_app_orders(
    sandbox, sandbox_settings, tmp_path, public_key_mode
):
    sdk = make_sdk(sandbox, sandbox_settings, tmp_path, public_key_mode=public_key_mode)
    native = place(sdk, "SDKNATIVE01", WeChatPayType.NATIVE)
    assert native["code_url"].startswith("weixin://")
    h5 = place(
        sdk,
        "SDKH5ORDER01",
        WeChatPayType.H5,
        scene_info={"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}},
    )
    assert h5["h5_url"].startswith("http")
    app = place(sdk, "SDKAPPORDER1", WeChatPayType.APP)
    assert app["prepay_id"]
    for out_trade_no in ("SDKNATIVE01", "SDKH5ORDER01", "SDKAPPORDER1"):
        code, message = sdk.query(out_trade_no=out_trade_no)
        assert code == 200, message
        assert json.loads(message)["trade_state"] == "NOTPAY"

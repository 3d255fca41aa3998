"""Third-party SDKs' payment-code calls against the simulator, unchanged but the base URL:
wechatpayv3's codepay and codepay_reverse (v3), wechatpy's micropay.create and order.reverse
(v2)."""

import json
import time

import pytest

from tests.support import require
from tests.support.sdk import make_sdk

try:
    from wechatpayv3 import WeChatPayType
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    WeChatPayType = None
try:
    from wechatpy.pay import WeChatPay as WeChatPayV2
except ImportError:  # pragma: no cover
    WeChatPayV2 = None

PAYS = "134567890123456701"


def test_wechatpayv3_codepay_pin_then_reverse(sandbox, sandbox_settings, tmp_path):
    sdk = make_sdk(sandbox, sandbox_settings, tmp_path, public_key_mode=True)
    code, message = sdk.pay(
        description="柜台 SDK",
        out_trade_no="SDKCODEPAY01",
        amount={"total": 300},
        payer={"auth_code": PAYS},
        scene_info={"device_ip": "127.0.0.1"},
        pay_type=WeChatPayType.CODEPAY,
    )
    assert code == 200, message
    paid = json.loads(message)
    assert paid["trade_state"] == "SUCCESS" and paid["trade_type"] == "MICROPAY"

    code, message = sdk.pay(
        description="柜台 SDK",
        out_trade_no="SDKCODEPAY02",
        amount={"total": 300},
        payer={"auth_code": "130100100000000001"},  # PIN dialog closed after 0.1 s
        scene_info={"device_ip": "127.0.0.1"},
        pay_type=WeChatPayType.CODEPAY,
    )
    assert code == 202 and json.loads(message) == {"trade_state": "USERPAYING"}
    time.sleep(0.2)
    code, message = sdk.codepay_reverse(out_trade_no="SDKCODEPAY02")
    assert code == 200, message
    code, message = sdk.query(out_trade_no="SDKCODEPAY02")
    assert json.loads(message)["trade_state"] == "REVOKED"


@pytest.fixture
def wechatpy(sandbox, sandbox_settings):
    require(WeChatPayV2 is not None, "wechatpy is not installed (requirements-dev.txt)")
    client = WeChatPayV2(
        appid=sandbox_settings["WECHAT_APPID"],
        api_key=sandbox_settings["WECHATPAY_API_KEY"],
        mch_id=sandbox_settings["WECHATPAY_MCHID"],
        timeout=5,
    )
    client.API_BASE_URL = sandbox.url + "/"  # the only change from production use
    return client


def test_wechatpy_micropay_and_reverse(wechatpy):
    answer = wechatpy.micropay.create(
        body="柜台 SDK",
        total_fee=300,
        auth_code=PAYS,
        client_ip="127.0.0.1",
        out_trade_no="SDKMICROPAY01",
    )
    assert answer["result_code"] == "SUCCESS" and answer["trade_type"] == "MICROPAY"
    reversed_ = wechatpy.order.reverse(out_trade_no="SDKMICROPAY01")
    assert reversed_["result_code"] == "SUCCESS" and reversed_["recall"] == "N"
    assert wechatpy.order.query(out_trade_no="SDKMICROPAY01")["trade_state"] == "REVOKED"

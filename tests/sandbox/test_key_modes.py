"""SANDBOX_KEY_MODE: the simulated merchant has a WeChat Pay public key, certificates, or both."""

import pytest
import requests

from sandbox import create_app
from tests.support import wait_for
from tests.support.simulator import Merchant, cashier, platform_serial, start_sandbox

# Which keys sign and verify; nothing here is stored differently.
pytestmark = pytest.mark.database_agnostic

NOTIFY_URL = "https://merchant.example.com/notify"


@pytest.fixture
def simulator(sandbox_settings):
    servers = []

    def start(mode, **overrides):
        server = start_sandbox(sandbox_settings, SANDBOX_KEY_MODE=mode, **overrides)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def answer_serial(server, settings, request_serial):
    merchant = Merchant(server.url, settings, serial_header=request_serial)
    response = merchant.place("KEYMODE" + (request_serial or "none")[-6:], NOTIFY_URL)
    assert response.status_code == 200, response.text
    assert merchant.verify(response.headers, response.content)
    return response.headers["Wechatpay-Serial"]


def notification_serial(server, settings, receiver):
    merchant = Merchant(server.url, settings)
    prepay_id = merchant.place("KEYMODENOTE", receiver.url).json()["prepay_id"]
    assert cashier(server, prepay_id).status_code == 200
    wait_for(receiver.bodies)
    with receiver.lock:
        delivered = receiver.received[0]
    assert merchant.verify(delivered["headers"], delivered["body"])
    return delivered["headers"]["Wechatpay-Serial"]


def test_public_key_merchant_signs_everything_with_the_public_key(
    simulator, sandbox_settings, receiver
):
    server = simulator("public-key")
    public_key_id = sandbox_settings["WECHATPAY_PUBLIC_KEY_ID"]
    # Whatever the request names (nothing, an old certificate serial, the key id).
    for named in (None, platform_serial(sandbox_settings), public_key_id):
        assert answer_serial(server, sandbox_settings, named) == public_key_id
    assert notification_serial(server, sandbox_settings, receiver) == public_key_id


def test_public_key_merchant_has_no_platform_certificates(simulator, sandbox_settings):
    server = simulator("public-key")
    response = Merchant(server.url, sandbox_settings).request("GET", "/v3/certificates")
    assert response.status_code == 404
    assert response.json()["code"] == "RESOURCE_NOT_EXISTS"
    assert "微信支付公钥" in response.json()["message"]
    rotated = requests.post(server.url + "/sandbox/platform-certificate/rotate", timeout=5)
    assert rotated.status_code == 400
    health = requests.get(server.url + "/sandbox/health", timeout=5).json()
    assert health["key_mode"] == "public-key"


def test_public_key_merchant_needs_no_platform_certificate(sandbox_settings):
    app = create_app(
        {
            **sandbox_settings,
            "SANDBOX_KEY_MODE": "public-key",
            "SANDBOX_PLATFORM_KEY": "",
            "SANDBOX_PLATFORM_CERT": "",
        }
    )
    assert app.extensions["sandbox"].config.platform is None


def test_certificate_merchant_signs_with_the_certificate(simulator, sandbox_settings, receiver):
    server = simulator("certificate")
    serial = platform_serial(sandbox_settings)
    for named in (None, sandbox_settings["WECHATPAY_PUBLIC_KEY_ID"]):
        assert answer_serial(server, sandbox_settings, named) == serial
    assert notification_serial(server, sandbox_settings, receiver) == serial
    certificates = Merchant(server.url, sandbox_settings).request("GET", "/v3/certificates")
    assert [item["serial_no"] for item in certificates.json()["data"]] == [serial]


def test_migrating_merchant_follows_the_request(simulator, sandbox_settings, receiver):
    server = simulator("migrating", SANDBOX_NOTIFY_PUBLIC_KEY_RATIO="1")
    public_key_id = sandbox_settings["WECHATPAY_PUBLIC_KEY_ID"]
    assert answer_serial(server, sandbox_settings, None) == platform_serial(sandbox_settings)
    assert answer_serial(server, sandbox_settings, public_key_id) == public_key_id
    assert notification_serial(server, sandbox_settings, receiver) == public_key_id


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"SANDBOX_KEY_MODE": "both"}, "SANDBOX_KEY_MODE must be one of"),
        (
            {"SANDBOX_KEY_MODE": "public-key", "WECHATPAY_PUBLIC_KEY_ID": ""},
            "needs WECHATPAY_PUBLIC_KEY_ID",
        ),
        (
            {"SANDBOX_KEY_MODE": "migrating", "SANDBOX_PLATFORM_CERT": ""},
            "needs SANDBOX_PLATFORM_CERT",
        ),
    ],
)
def test_a_mode_without_its_keys_does_not_start(sandbox_settings, overrides, message):
    with pytest.raises(ValueError, match=message):
        create_app({**sandbox_settings, **overrides})


@pytest.mark.parametrize("mode", ["public-key", "certificate", "migrating"])
def test_the_backend_takes_payments_in_every_mode(make_stack, mode):
    """The backend set up as each merchant would be: with the public key unless the merchant
    has only certificates."""
    overrides = {"SANDBOX_KEY_MODE": mode, "SANDBOX_NOTIFY_PUBLIC_KEY_RATIO": "0.5"}
    if mode == "certificate":
        overrides.update(WECHATPAY_PUBLIC_KEY="", WECHATPAY_PUBLIC_KEY_ID="")
    stack = make_stack(**overrides)
    auth = stack.login()
    created = stack.create_order(auth)
    assert created.status_code == 201, created.text
    created = created.json()
    assert stack.cashier(created["pay_params"]).status_code == 200
    order = wait_for(
        lambda: (
            (o := stack.order(auth, created["order"]["id"]).json()["order"])["status"] == "PAID"
            and o
        )
    )
    assert order["transaction_id"]


# --- the cashier checks paySign as WeChat's client does ------------------------------------------


def test_the_cashier_takes_the_backends_pay_params(stack):
    auth = stack.login()
    created = stack.create_order(auth).json()
    params = created["pay_params"]
    other_first = "B" if params["paySign"].startswith("A") else "A"  # a different signature
    for name, value in (
        ("paySign", other_first + params["paySign"][1:]),
        ("nonceStr", "changed"),
        ("timeStamp", str(int(params["timeStamp"]) + 1)),
    ):
        refused = stack.cashier({**params, name: value})
        assert refused.status_code == 400
        assert refused.json()["error"]["errMsg"] == "requestPayment:fail 支付验证签名失败"
    missing = stack.cashier({key: value for key, value in params.items() if key != "package"})
    assert missing.json()["error"]["errMsg"].startswith("requestPayment:fail parameter error")
    order = stack.order(auth, created["order"]["id"]).json()["order"]
    assert order["status"] != "PAID"
    assert stack.cashier(params).status_code == 200


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_the_cashier_checks_v2_pay_params(make_stack, sign_type):
    stack = make_stack(WECHATPAY_API_VERSION="v2", WECHATPAY_V2_SIGN_TYPE=sign_type)
    auth = stack.login()
    params = stack.create_order(auth).json()["pay_params"]
    assert params["signType"] == sign_type
    assert stack.cashier({**params, "paySign": "0" * 32}).status_code == 400
    assert stack.cashier(params).status_code == 200

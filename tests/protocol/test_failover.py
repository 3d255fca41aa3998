"""WeChat's backup domain: calls safe to repeat fail over on any transport failure; placing an
order fails over only when the primary provably never got it.

One simulator serves two ports, standing in for api.mch.weixin.qq.com and
api2.mch.weixin.qq.com; a "port" fault hits one of them, a closed port is a primary that
refuses connections.
"""

import socket
from datetime import UTC, datetime, timedelta

import pytest
import requests

import sandbox
from server import config
from server.channels import build_gateway
from server.wechatpay.core.errors import ApiError, TransportError
from server.wechatpay.core.types import OrderRequest
from tests.support.live import LiveServer

NOTIFY_URL = "https://merchant.example.com/api/pay/notify"


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def bases(dev_keys):
    """(simulator app, primary server, backup server): one simulator on two ports."""
    app = sandbox.create_app({**dev_keys, "SANDBOX_TIME_SCALE": "0.001"})
    primary, backup = LiveServer(app).start(), LiveServer(app).start()
    yield app, primary, backup
    primary.stop()
    backup.stop()


def gateway(dev_keys, primary, backup, version="v3", timeout=1):
    values = config.load(
        {
            **dev_keys,
            "WECHATPAY_API_BASE": primary,
            "WECHATPAY_API_BASE_BACKUP": backup,
            "WECHATPAY_API_VERSION": version,
            "WECHATPAY_NOTIFY_URL": NOTIFY_URL,
        }
    )
    return build_gateway(values, requests.Session(), timeout)


def order(out_trade_no):
    return OrderRequest(
        out_trade_no=out_trade_no,
        description="failover",
        total=1,
        openid="oFailoverUser",
        notify_url=NOTIFY_URL,
        time_expire=datetime.now(UTC) + timedelta(minutes=30),
    )


def arm(server, **fault):
    response = requests.post(server.url + "/sandbox/faults", json={"kind": "api", **fault})
    assert response.status_code == 201, response.text


def armed(server):
    return requests.get(server.url + "/sandbox/faults").json()["faults"]


def tripwire(backup):
    """A fault on the backup port that any request reaching it would use up."""
    arm(backup, path="/", port=backup.port, status=500, code="TRIPWIRE")


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_a_refused_primary_fails_over_for_orders_and_queries(bases, dev_keys, version):
    _app, _primary, backup = bases
    gw = gateway(dev_keys, closed_port_url(), backup.url, version)
    assert gw.place_order(order("FAILOVER01")).startswith("wx")  # never reached: safe
    assert gw.query_order("FAILOVER01").trade_state == "NOTPAY"
    gw.close_order("FAILOVER01")
    assert gw.query_order("FAILOVER01").trade_state == "CLOSED"


def test_an_unresolvable_primary_fails_over(bases, dev_keys):
    _app, _primary, backup = bases
    gw = gateway(dev_keys, "http://api.failover-test.invalid", backup.url)
    assert gw.place_order(order("FAILOVER02")).startswith("wx")


def test_a_primary_that_times_out_is_not_resent_an_order(bases, dev_keys):
    _app, primary, backup = bases
    arm(primary, path="/v3/pay/transactions/jsapi", port=primary.port, delay=1.5)
    tripwire(backup)
    gw = gateway(dev_keys, primary.url, backup.url)
    with pytest.raises(TransportError, match="timed out"):
        gw.place_order(order("FAILOVER03"))  # it may have arrived: query, don't resend
    assert [f["code"] for f in armed(backup)] == ["TRIPWIRE"]  # the backup never heard of it


def test_a_query_that_times_out_fails_over(bases, dev_keys):
    _app, primary, backup = bases
    gw = gateway(dev_keys, primary.url, backup.url)
    gw.place_order(order("FAILOVER04"))
    arm(primary, path="/v3/pay/transactions/out-trade-no", port=primary.port, delay=1.5)
    assert gw.query_order("FAILOVER04").trade_state == "NOTPAY"


def test_certificates_fail_over(dev_keys):
    app = sandbox.create_app({**dev_keys, "SANDBOX_KEY_MODE": "migrating"})
    with LiveServer(app) as backup:
        gw = gateway(dev_keys, closed_port_url(), backup.url)
        assert len(gw.download_certificates()) == 1


def test_both_down_is_a_transport_error(dev_keys):
    gw = gateway(dev_keys, closed_port_url(), closed_port_url())
    with pytest.raises(TransportError):
        gw.query_order("FAILOVER05")


def test_the_backup_domain_is_the_default_for_the_real_wechat(dev_keys):
    real = config.load({"WECHATPAY_API_BASE": "https://api.mch.weixin.qq.com"})
    assert real["WECHATPAY_API_BASE_BACKUP"] == "https://api2.mch.weixin.qq.com"
    simulator = config.load({"WECHATPAY_API_BASE": "http://127.0.0.1:8001"})
    assert "WECHATPAY_API_BASE_BACKUP" not in simulator
    off = config.load(
        {"WECHATPAY_API_BASE": "https://api.mch.weixin.qq.com", "WECHATPAY_API_BASE_BACKUP": ""}
    )
    assert not off["WECHATPAY_API_BASE_BACKUP"]


def test_a_connection_dropped_after_sending_is_not_resent_an_order(bases, dev_keys):
    _app, primary, backup = bases
    arm(primary, path="/v3/pay/transactions/jsapi", port=primary.port, reset=True)
    tripwire(backup)
    gw = gateway(dev_keys, primary.url, backup.url)
    with pytest.raises(TransportError, match="unreachable"):
        gw.place_order(order("FAILOVER06"))
    assert [f["code"] for f in armed(backup)] == ["TRIPWIRE"]
    requests.delete(backup.url + "/sandbox/faults").raise_for_status()
    # The same drop on a query: safe to repeat, so the backup answers it.
    arm(primary, path="/v3/pay/transactions/out-trade-no", port=primary.port, reset=True)
    with pytest.raises(ApiError) as answered:
        gw.query_order("FAILOVER06")
    assert answered.value.code == "ORDER_NOT_EXIST"  # dropped before the simulator took it

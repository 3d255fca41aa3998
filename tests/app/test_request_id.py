"""WeChat Pay's Request-ID reaches the logs and every recorded error (issue 11, class 11)."""

import logging
import re

import pytest

# Logs and error bodies.
pytestmark = pytest.mark.database_agnostic

REQUEST_ID = re.compile(r"[0-9A-F]{40}")


@pytest.fixture(params=["v3", "v2"])
def any_stack(request, make_stack):
    return make_stack(WECHATPAY_API_VERSION=request.param)


def test_a_refused_order_carries_wechats_request_id_to_the_client_and_the_log(any_stack, caplog):
    path = (
        "/v3/pay/transactions/jsapi"
        if any_stack.settings["WECHATPAY_API_VERSION"] == "v3"
        else "/pay/unifiedorder"
    )
    auth = any_stack.login()
    any_stack.control("faults", kind="api", path=path, status=500, code="SYSTEM_ERROR")
    with caplog.at_level(logging.INFO):
        response = any_stack.create_order(auth)
    assert response.status_code in (502, 503), response.text
    request_id = response.json()["error"]["wechatpay_request_id"]
    assert REQUEST_ID.fullmatch(request_id)
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert any(request_id in line for line in failures), failures


def test_every_call_to_wechat_pay_is_logged_with_its_request_id(stack, caplog):
    auth = stack.login()
    with caplog.at_level(logging.INFO, logger="server.wechatpay"):
        assert stack.create_order(auth).status_code == 201
    calls = [r.getMessage() for r in caplog.records if r.name.startswith("server.wechatpay")]
    assert any(
        "/v3/pay/transactions/jsapi" in line and REQUEST_ID.search(line) for line in calls
    ), calls

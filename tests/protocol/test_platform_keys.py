"""Certificate mode: platform certificates are downloaded, cached, and refreshed on rotation."""

import pytest
import requests

from tests.support import wait_for

# Certificates are cached in memory, not in the database.
pytestmark = pytest.mark.database_agnostic


def certificate_downloads(stack):
    """How many times the backend has fetched /v3/certificates (counted by a fault's uses)."""
    faults = requests.get(f"{stack.sandbox}/sandbox/faults").json()["faults"]
    return 1000 - sum(f["times"] for f in faults if f["path"] == "/v3/certificates")


def test_new_platform_certificate_is_fetched_when_its_serial_appears(cert_mode_stack):
    stack = cert_mode_stack
    # A fault that only counts: each /v3/certificates request uses one of its 1000 turns.
    stack.control("faults", kind="api", path="/v3/certificates", delay=0.001, times=1000)
    auth = stack.login()
    created = stack.create_order(auth).json()  # verifying WeChat's answer downloads the list
    assert certificate_downloads(stack) == 1
    stack.create_order(auth)  # ... once: the certificate is cached
    assert certificate_downloads(stack) == 1

    new_serial = stack.control("platform-certificate/rotate")["serial_no"]
    keys = stack.app.extensions["wechatpay"].platform_keys
    keys.REFRESH_INTERVAL = 0  # the default (60 s) would make WeChat's retry find it later
    stack.cashier(created["pay_params"])  # the notification is signed with the new certificate
    # Wait for the simulator to record the backend's answer (it does so only after the backend
    # has answered), not for the order to be paid: reading the order would also query WeChat.
    delivered = wait_for(lambda: [n for n in stack.notifications() if n["acknowledged"]])
    assert [n["status"] for n in delivered] == [204]
    assert (
        stack.query("SELECT status FROM orders WHERE id = :id", id=created["order"]["id"])[0][0]
        == "PAID"
    )
    assert certificate_downloads(stack) == 2
    assert keys(new_serial) is not None


def test_unknown_serials_cannot_make_the_backend_hammer_wechat(cert_mode_stack):
    stack = cert_mode_stack
    stack.control("faults", kind="api", path="/v3/certificates", delay=0.001, times=1000)
    keys = stack.app.extensions["wechatpay"].platform_keys
    for serial in ("AAAA", "BBBB", "CCCC", "DDDD"):
        assert keys(serial) is None
    assert certificate_downloads(stack) == 1  # one download per minute at most


def test_public_key_mode_still_fetches_platform_certificates(make_stack):
    """While a merchant migrates, WeChat may sign with either key (docs/protocol.md C4)."""
    stack = make_stack(SANDBOX_KEY_MODE="migrating")
    gateway = stack.app.extensions["wechatpay"]
    certificates = gateway.download_certificates()  # this answer is signed with the public key
    assert len(certificates) == 1
    (serial,) = certificates
    assert gateway.platform_keys(serial) is not None  # fetched on first sight of its serial

"""The whole mini-program payment loop over real HTTP, against the simulator."""

import requests

from server.wechatpay import crypto
from tests.support import wait_for


def verify_pay_params(stack, pay_params):
    """paySign must verify with the merchant's public key over appId, timeStamp, nonceStr,
    package — the message WeChat's client checks (docs/protocol.md C9)."""
    assert set(pay_params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert pay_params["signType"] == "RSA"
    assert pay_params["package"].startswith("prepay_id=wx")
    assert pay_params["timeStamp"].isdigit()
    with open(stack.settings["WECHATPAY_CERT"], "rb") as cert:
        merchant_key = crypto.load_public_key(cert.read())
    message = "".join(
        f"{part}\n"
        for part in (
            stack.settings["WECHAT_APPID"],
            pay_params["timeStamp"],
            pay_params["nonceStr"],
            pay_params["package"],
        )
    )
    assert crypto.rsa_verify(merchant_key, message, pay_params["paySign"])


def pay_and_wait(stack, auth, created):
    assert stack.cashier(created["pay_params"]).status_code == 200
    order_id = created["order"]["id"]
    return wait_for(
        lambda: (o := stack.order(auth, order_id).json()["order"])["status"] == "PAID" and o
    )


def test_login_order_pay_notification_paid(stack):
    auth = stack.login()
    product = stack.products()[0]
    response = stack.create_order(auth, [{"product_id": product["id"], "quantity": 2}])
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["order"]["status"] == "NOTPAY"
    assert created["order"]["total"] == 2 * product["price"]
    verify_pay_params(stack, created["pay_params"])

    paid = pay_and_wait(stack, auth, created)
    assert paid["transaction_id"]
    assert paid["paid_at"]
    # The page's polling may also have queried WeChat; the notification is recorded once.
    events = wait_for(
        lambda: stack.query("SELECT event_type FROM payment_events WHERE source = 'notify'")
    )
    assert [tuple(e) for e in events] == [("TRANSACTION.SUCCESS",)]


def test_certificate_mode_loop(cert_mode_stack):
    stack = cert_mode_stack
    auth = stack.login()
    created = stack.create_order(auth).json()
    verify_pay_params(stack, created["pay_params"])
    assert pay_and_wait(stack, auth, created)["status"] == "PAID"


def test_cancelled_payment_stays_payable(stack):
    auth = stack.login()
    created = stack.create_order(auth).json()
    assert stack.cashier(created["pay_params"], action="cancel").status_code == 200
    order = stack.order(auth, created["order"]["id"]).json()["order"]
    assert order["status"] == "NOTPAY"
    again = requests.post(f"{stack.backend}/api/orders/{order['id']}/pay", headers=auth)
    assert again.status_code == 200
    verify_pay_params(stack, again.json()["pay_params"])

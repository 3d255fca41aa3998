"""Pay one order against the simulator, the way the mini program does, and print each step.

    python scripts/demo.py [--backend http://127.0.0.1:8000] [--sandbox http://127.0.0.1:8001]

Run it while `make dev` is up. It is the README's curl walk-through as a script.
"""

import argparse
import json
import time

import requests


def step(title, data):
    print(f"--- {title}\n{json.dumps(data, ensure_ascii=False, indent=2)}")


def run(backend, sandbox, openid="o-demo-user"):
    # 1. wx.login: in development the simulator mints the code WeChat would give.
    code = requests.post(f"{sandbox}/sandbox/login-code", json={"openid": openid}).json()["code"]
    login = requests.post(f"{backend}/api/login", json={"code": code})
    login.raise_for_status()
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    step("POST /api/login", {**login.json(), "token": "<hidden>"})

    # 2. The catalogue; 3. an order (priced by the server) and its wx.requestPayment parameters.
    product = requests.get(f"{backend}/api/products").json()["products"][0]
    created = requests.post(
        f"{backend}/api/orders",
        headers=auth,
        json={"items": [{"product_id": product["id"], "quantity": 2}]},
    )
    created.raise_for_status()
    order, pay_params = created.json()["order"], created.json()["pay_params"]
    step("POST /api/orders -> pay_params for wx.requestPayment", pay_params)

    # 4. The user pays at WeChat's cashier (the simulator plays it and checks paySign as
    #    WeChat's client does); WeChat notifies the backend.
    paid = requests.post(f"{sandbox}/sandbox/pay", json={"pay_params": pay_params, "action": "pay"})
    step("POST /sandbox/pay", paid.json())

    # 5. The mini program polls its order until the server says PAID.
    for _ in range(50):
        order = requests.get(f"{backend}/api/orders/{order['id']}", headers=auth).json()["order"]
        if order["status"] == "PAID":
            break
        time.sleep(0.2)
    step(f"GET /api/orders/{order['id']}", order)
    return order


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="http://127.0.0.1:8000")
    parser.add_argument("--sandbox", default="http://127.0.0.1:8001")
    args = parser.parse_args()
    order = run(args.backend, args.sandbox)
    raise SystemExit(0 if order["status"] == "PAID" else f"order is {order['status']}")


if __name__ == "__main__":
    main()

"""The simulator alone, as a merchant's code meets it: a signing merchant, a notify receiver.

Its fixtures (``sandbox_settings``, ``sandbox``, ``merchant``, ``receiver``...) are in
tests/conftest.py; these are the plain helpers (Merchant, Receiver, cashier, arm...).
"""

import json
import threading
import time
from pathlib import Path

import requests
from flask import Flask, request

from sandbox import create_app
from server.wechatpay.crypto import (
    certificate_serial,
    load_private_key,
    load_public_key,
    rsa_verify,
    v3_authorization,
    v3_response_message,
)
from tests.support.live import LiveServer


def start_sandbox(settings, **overrides):
    return LiveServer(create_app({**settings, **overrides})).start()


class Merchant:
    """What a merchant's v3 client does: sign requests, verify the simulator's answers."""

    def __init__(self, base_url, settings, serial_header=None):
        self.base_url = base_url
        self.settings = settings
        self.mchid = settings["WECHATPAY_MCHID"]
        self.appid = settings["WECHAT_APPID"]
        self.serial = settings["WECHATPAY_CERT_SERIAL"]
        self.key = load_private_key(Path(settings["WECHATPAY_PRIVATE_KEY"]).read_bytes())
        self.serial_header = serial_header
        self.platform_key = load_public_key(Path(settings["SANDBOX_PLATFORM_CERT"]).read_bytes())
        self.public_key = load_public_key(Path(settings["WECHATPAY_PUBLIC_KEY"]).read_bytes())
        self.public_key_id = settings["WECHATPAY_PUBLIC_KEY_ID"]

    def request(
        self,
        method,
        path,
        body=None,
        *,
        raw=None,
        sign_key=None,
        sign_path=None,
        sign_body=None,
        mchid=None,
        serial=None,
        timestamp=None,
        timeout=10,
    ):
        data = (
            raw
            if raw is not None
            else b""
            if body is None
            else json.dumps(body, ensure_ascii=False).encode()
        )
        signed = data if sign_body is None else sign_body
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "sandbox-tests",
            "Authorization": v3_authorization(
                sign_key or self.key,
                mchid or self.mchid,
                serial or self.serial,
                method,
                sign_path or path,
                signed,
                timestamp=timestamp,
            ),
        }
        if self.serial_header:
            headers["Wechatpay-Serial"] = self.serial_header
        return requests.request(
            method, self.base_url + path, data=data or None, headers=headers, timeout=timeout
        )

    def verify(self, headers, body):
        """True when the Wechatpay-* headers sign ``body`` with the key their serial names."""
        serial = headers.get("Wechatpay-Serial")
        key = self.public_key if serial == self.public_key_id else self.platform_key
        if serial not in (self.public_key_id, platform_serial(self.settings)):
            return False
        if headers.get("Wechatpay-Signature-Type") != "WECHATPAY2-SHA256-RSA2048":
            return False
        message = v3_response_message(
            headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], body
        )
        return rsa_verify(key, message, headers["Wechatpay-Signature"])

    def order(self, out_trade_no, notify_url, total=100, **extra):
        body = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": "测试商品",
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": {"total": total, "currency": "CNY"},
            "payer": {"openid": "oTestOpenid0000000000000001"},
            **extra,
        }
        return body

    def place(self, out_trade_no, notify_url, **extra):
        return self.request(
            "POST", "/v3/pay/transactions/jsapi", self.order(out_trade_no, notify_url, **extra)
        )


def platform_serial(settings):
    return certificate_serial(Path(settings["SANDBOX_PLATFORM_CERT"]).read_bytes())


class Receiver:
    """A merchant's notify_url: records what arrives and answers with scripted statuses."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        app = Flask(__name__)

        @app.post("/notify")
        def notify():
            with self.lock:  # recorded on arrival, so a slow answer never leaks into a later test
                self.received.append({"headers": dict(request.headers), "body": request.get_data()})
                status = self.statuses.pop(0) if self.statuses else 204
                delay = self.delay
            time.sleep(delay)
            if status == 200:
                return {"code": "FAIL", "message": "200 with FAIL still counts as received"}
            if status == 204:
                return "", 204
            return {"code": "FAIL", "message": "失败"}, status

        self.server = LiveServer(app)
        self.url = self.server.url + "/notify"

    def reset(self, statuses=(), delay=0):
        with self.lock:
            self.received = []
            self.statuses = list(statuses)  # answered in turn; 204 once they run out
            self.delay = delay

    def bodies(self):
        with self.lock:
            return [r["body"] for r in self.received]


def deliveries(sandbox, out_trade_no=None):
    params = {"out_trade_no": out_trade_no} if out_trade_no else {}
    return requests.get(sandbox.url + "/sandbox/notifications", params=params, timeout=5).json()[
        "notifications"
    ]


def cashier(sandbox, prepay_id, action="pay"):
    return requests.post(
        sandbox.url + "/sandbox/pay", json={"prepay_id": prepay_id, "action": action}, timeout=5
    )


def arm(sandbox, *faults):
    response = requests.post(
        sandbox.url + "/sandbox/faults", json={"faults": list(faults)}, timeout=5
    )
    assert response.status_code == 201, response.text
    return response.json()["faults"]

"""The baselines bench/run.py measures the backend against, served by the same gunicorn with
the same gunicorn.conf.py: ``gunicorn -c gunicorn.conf.py 'bench.baselines:create_app()'``.

``BENCH_BASELINE`` picks one; each is the least a framework-based endpoint can do for the job:

- ``ceiling``: bare Flask + Flask-SQLAlchemy, one conditional UPDATE of the order named in the
  ``Bench-Order`` header (the notification itself is not even read);
- ``crypto``: the same, after one RSA verification of the notification's signature and one
  AES-GCM decryption of its resource: the floor for any genuine notification handler;
- ``order``: one INSERT of an order, then one signed JSAPI call to WeChat (the simulator) with
  its answer's signature verified; no login, no catalogue, no paySign.

Settings come from the same environment variables as the backend's.
"""

import json
import os
import secrets
from pathlib import Path

import requests
from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

from server import _database_url, _engine_options
from server.config import DEFAULTS
from server.wechatpay import crypto

db = SQLAlchemy()

PAY = text(
    "UPDATE orders SET status = 'PAID', transaction_id = :transaction_id, "
    "paid_at = CURRENT_TIMESTAMP WHERE out_trade_no = :out_trade_no "
    "AND status IN ('NOTPAY', 'CLOSED')"
)
INSERT = text(
    "INSERT INTO orders (user_id, out_trade_no, channel, trade_type, appid, mchid, "
    "api_version, description, total, status, time_expire, created_at) VALUES (1, "
    ":out_trade_no, 'miniprogram', 'JSAPI', 'wxbench', '1900000000', 'v3', 'bench', 100, "
    "'NOTPAY', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


def create_app():
    env = os.environ
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = _database_url(env["DATABASE_URL"])
    # The backend's pool, from the same settings.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options({**DEFAULTS, **env})
    db.init_app(app)
    kind = env["BENCH_BASELINE"]
    public_key = crypto.load_public_key(Path(env["WECHATPAY_PUBLIC_KEY"]).read_bytes())

    if kind == "ceiling":

        @app.post("/api/pay/notify")
        def ceiling():
            out_trade_no = request.headers["Bench-Order"]
            db.session.execute(
                PAY, {"out_trade_no": out_trade_no, "transaction_id": "42" + out_trade_no}
            )
            db.session.commit()
            return "", 204

    if kind == "crypto":
        apiv3_key = env["WECHATPAY_APIV3_KEY"].encode()

        @app.post("/api/pay/notify")
        def crypto_floor():
            body = request.get_data()
            headers = request.headers
            message = crypto.v3_response_message(
                headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], body
            )
            if not crypto.rsa_verify(public_key, message, headers["Wechatpay-Signature"]):
                return "", 401
            resource = json.loads(body)["resource"]
            transaction = json.loads(
                crypto.aes_gcm_decrypt(
                    apiv3_key,
                    resource["nonce"],
                    resource["ciphertext"],
                    resource["associated_data"],
                )
            )
            db.session.execute(
                PAY,
                {
                    "out_trade_no": transaction["out_trade_no"],
                    "transaction_id": transaction["transaction_id"],
                },
            )
            db.session.commit()
            return "", 204

    if kind == "order":
        private_key = crypto.load_private_key(Path(env["WECHATPAY_PRIVATE_KEY"]).read_bytes())
        session = requests.Session()
        path = "/v3/pay/transactions/jsapi"

        @app.post("/api/orders")
        def bare_order():
            out_trade_no = "B" + secrets.token_hex(12)
            db.session.execute(INSERT, {"out_trade_no": out_trade_no})
            db.session.commit()
            body = json.dumps(
                {
                    "appid": env["WECHAT_APPID"],
                    "mchid": env["WECHATPAY_MCHID"],
                    "description": "bench",
                    "out_trade_no": out_trade_no,
                    "notify_url": env["WECHATPAY_NOTIFY_URL"],
                    "amount": {"total": 100, "currency": "CNY"},
                    "payer": {"openid": "o-bench"},
                },
                separators=(",", ":"),
            ).encode()
            response = session.post(
                env["WECHATPAY_API_BASE"] + path,
                data=body,
                headers={
                    "Authorization": crypto.v3_authorization(
                        private_key,
                        env["WECHATPAY_MCHID"],
                        env["WECHATPAY_CERT_SERIAL"],
                        "POST",
                        path,
                        body,
                    ),
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "Wechatpay-Serial": env["WECHATPAY_PUBLIC_KEY_ID"],
                },
                timeout=10,
            )
            h = response.headers
            assert crypto.rsa_verify(
                public_key,
                crypto.v3_response_message(
                    h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], response.content
                ),
                h["Wechatpay-Signature"],
            )
            return {"prepay_id": response.json()["prepay_id"]}, 201

    return app

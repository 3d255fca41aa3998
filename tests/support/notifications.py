"""Build v3 payment notifications for tests, signed and encrypted like WeChat's.

Like stripe's ``generate_test_header_string``: the test states what differs from a genuine
notification (key, serial, timestamp, body, amount...) and everything else is right.
"""

import functools
import json
import uuid

from server.wechatpay import crypto


def transaction_for(settings, order, **changes):
    """The decrypted resource WeChat would send for paying ``order`` (an ORDER dict)."""
    resource = {
        "appid": settings["WECHAT_APPID"],
        "mchid": settings["WECHATPAY_MCHID"],
        "out_trade_no": order["out_trade_no"],
        "transaction_id": "4200001234202611220000000001",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": "2026-11-22T10:34:56+08:00",
        "payer": {"openid": "o-test"},
        "amount": {
            "total": order["total"],
            "payer_total": order["total"],
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    resource.update(changes)
    return resource


def signed_notification(
    settings,
    resource,
    *,
    event_id=None,
    key_path=None,
    serial=None,
    timestamp=None,
    signature=None,
    apiv3_key=None,
    body=None,
    event_type="TRANSACTION.SUCCESS",
    kind="transaction",
):
    """(headers, body bytes) of a notification; by default signed in public key mode.
    ``kind`` is the resource's original_type and associated data ("refund" for refunds)."""
    nonce = crypto.nonce(12)
    envelope = {
        "id": event_id or str(uuid.uuid4()),
        "create_time": "2026-11-22T10:34:57+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": {
            "original_type": kind,
            "algorithm": "AEAD_AES_256_GCM",
            "associated_data": kind,
            "nonce": nonce,
            "ciphertext": crypto.aes_gcm_encrypt(
                (apiv3_key or settings["WECHATPAY_APIV3_KEY"]).encode(),
                nonce,
                json.dumps(resource, ensure_ascii=False).encode(),
                kind,
            ),
        },
    }
    if body is None:
        body = json.dumps(envelope, ensure_ascii=False).encode()
    key = _private_key(key_path or settings["SANDBOX_PUBLIC_KEY_PRIVATE"])
    timestamp = str(timestamp or crypto.now())
    header_nonce = crypto.nonce()
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": header_nonce,
        "Wechatpay-Serial": serial or settings["WECHATPAY_PUBLIC_KEY_ID"],
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        "Wechatpay-Signature": signature
        or crypto.rsa_sign(key, crypto.v3_response_message(timestamp, header_nonce, body)),
    }
    return headers, body


@functools.cache
def _private_key(path):
    """Parsed once per file: loading an RSA key checks it, which costs far more than a
    signature."""
    with open(path, "rb") as f:
        return crypto.load_private_key(f.read())

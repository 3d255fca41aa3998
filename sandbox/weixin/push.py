"""Messages WeChat pushes to the backend's message URL (消息推送), as the shipping service sends
them: to ``SANDBOX_PUSH_URL`` (the backend's ``/api/wechat/push``), signed with
``WECHAT_PUSH_TOKEN`` and, when ``WECHAT_PUSH_AES_KEY`` is set, encrypted (the secure mode).
No URL or token: nothing is pushed. Retried like notifications until answered 200 ``success``
(or empty).
"""

import json
import time

from server.wechat import push
from server.wechatpay.crypto import nonce as make_nonce

from ..wire import json_bytes


def send(state, message, out_trade_no):
    """Push ``message`` (a dict) to the backend, if a push URL and token are configured."""
    url, token = state.settings.get("SANDBOX_PUSH_URL"), state.settings.get("WECHAT_PUSH_TOKEN")
    if not url or not token:
        return
    body, params = push_request(state.settings, message)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    state.deliver(
        f"{url}?{query}",
        body,
        {"Content-Type": "application/json"},
        lambda response: response.status_code == 200 and response.text in ("success", ""),
        event_id=f"push:{message['Event']}:{message['CreateTime']}",
        out_trade_no=out_trade_no,
    )


def push_request(settings, message, timestamp=None):
    """``(body bytes, query params)`` of one push, plaintext or encrypted as configured."""
    token, key = settings["WECHAT_PUSH_TOKEN"], settings.get("WECHAT_PUSH_AES_KEY")
    timestamp, nonce = str(timestamp or int(time.time())), make_nonce(10)
    params = {
        "signature": push.signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    if not key:
        return json_bytes(message), params
    encrypted = push.encrypt(
        push.aes_key(key),
        json.dumps(message, ensure_ascii=False).encode(),
        settings["WECHAT_APPID"],
    )
    params.update(
        encrypt_type="aes", msg_signature=push.signature(token, timestamp, nonce, encrypted)
    )
    return json_bytes({"ToUserName": message["ToUserName"], "Encrypt": encrypted}), params

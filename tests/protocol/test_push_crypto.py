"""The message push's signatures and encrypted mode, pinned to WeChat's published sample
(the WXBizMsgCrypt sample: Token QDG6eK, the EncodingAESKey below, receiver
wx5823bf96d3bd56c7; the same algorithm serves mini programs, official accounts and WeCom)."""

import pytest

from server.wechat import push

TOKEN = "QDG6eK"
KEY = push.aes_key("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
RECEIVER = "wx5823bf96d3bd56c7"
# The URL check of the sample: msg_signature, timestamp, nonce, echostr -> its plaintext.
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
# The sample's encrypted message and its msg_signature.
ENCRYPTED = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qc"
    "zcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs"
    "8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4z"
    "G4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS"
    "0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAV"
    "e0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)


def test_official_url_check_vector():
    assert (
        push.signature(TOKEN, "1409659589", "263014780", ECHOSTR)
        == "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    )
    assert push.decrypt(KEY, ECHOSTR, RECEIVER) == b"1616140317555161061"


def test_official_message_vector():
    push.check_signature(
        "477715d11cdb4164915debcba66cb864d751f3e6", TOKEN, "1409659813", "1372623149", ENCRYPTED
    )
    message = push.decrypt(KEY, ENCRYPTED, RECEIVER)
    assert message.startswith(b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]>")
    assert b"<CreateTime>1409659813</CreateTime>" in message


def test_encrypt_round_trip_and_refusals():
    encrypted = push.encrypt(KEY, b'{"Event":"x"}', RECEIVER, random_prefix=b"r" * 16)
    assert push.decrypt(KEY, encrypted, RECEIVER) == b'{"Event":"x"}'
    with pytest.raises(push.PushError) as wrong_appid:
        push.decrypt(KEY, encrypted, "wx0000000000000000")
    assert wrong_appid.value.code == "WRONG_APPID"
    other_key = push.aes_key("A" * 42 + "E")
    for bad in (
        encrypted[:-4] + "AAA=",
        "not base64!",
        "",
        push.encrypt(other_key, b"{}", RECEIVER),
    ):
        with pytest.raises(push.PushError):
            push.decrypt(KEY, bad, RECEIVER)
    with pytest.raises(push.PushError):
        push.check_signature("0" * 40, TOKEN, "1409659813", "1372623149", ENCRYPTED)


@pytest.mark.parametrize("key", ["short", "A" * 44, "!" * 43])
def test_encoding_aes_key_must_be_43_base64_characters(key):
    with pytest.raises(ValueError):
        push.aes_key(key)

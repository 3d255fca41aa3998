"""Protocol primitives pinned to the official vectors (protocol reference) and cross-checked
against independent implementations: pycryptodome and the openssl command line."""

import base64
import json
import shutil
import subprocess

import pytest
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15

from server.wechatpay import crypto
from tests.support import require


@pytest.fixture(scope="module")
def merchant(dev_keys):
    with open(dev_keys["WECHATPAY_PRIVATE_KEY"], "rb") as f:
        pem = f.read()
    with open(dev_keys["WECHATPAY_CERT"], "rb") as f:
        cert = f.read()
    return {
        "pem": pem,
        "key": crypto.load_private_key(pem),
        "cert": cert,
        "public": crypto.load_public_key(cert),
        "path": dev_keys["WECHATPAY_PRIVATE_KEY"],
    }


# --- official vectors ---------------------------------------------------------------------


def test_aes_gcm_official_go_sdk_vector():
    # wechatpay-go's test vector (docs/protocol.md C5): a 16-byte key exercises the same code path.
    plaintext = crypto.aes_gcm_decrypt(
        b"testAPIv3Key0000",
        "wCq51qZv4Yfg",
        "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC",
        "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
    )
    assert plaintext == b"Hello World"


def test_aes_gcm_rejects_tampering():
    ciphertext = "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC"
    tampered = base64.b64encode(
        bytes([base64.b64decode(ciphertext)[0] ^ 1]) + base64.b64decode(ciphertext)[1:]
    ).decode()
    for args in [
        (b"testAPIv3Key0000", "wCq51qZv4Yfg", tampered, "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8"),
        (b"testAPIv3Key0000", "wCq51qZv4Yfg", ciphertext, "other aad"),
        (b"testAPIv3Key0001", "wCq51qZv4Yfg", ciphertext, "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8"),
        (b"testAPIv3Key0000", "wCq51qZv4Yfg", "not base64!", ""),
    ]:
        with pytest.raises(crypto.DecryptionError):
            crypto.aes_gcm_decrypt(*args)


def test_open_data_signature_official_vector():
    raw_data = (
        '{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou",'
        '"province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/'
        "vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYs"
        'rztuuICqIM5ibXQ/0"}'
    )
    assert (
        crypto.open_data_signature(raw_data, "HyVFkGl5F5OQWJZZaNzBBg==")
        == "75e81ceda165f4ffa64f4068af58c64b8f54b88c"
    )


def test_v2_refund_key_official_vector():
    assert (
        crypto.v2_refund_key("192006250b4c09247ec02edce69f6a2d")
        == b"d96eb16afdd491fa1e705096edbc2205"
    )


# A real v2 refund notification's req_info, as published with its merchant key in the SDK
# tests of silenceper/wechat (pay/notify/refund_test.go) and go-pay/gopay
# (TestDecryptRefundNotifyReqInfo).
SDK_REFUND_KEY = "ziR0QKsTUfMOuochC9RfCdmfHECorQAP"
SDK_REQ_INFO = (
    "YYwp8C48th0wnQzTqeI+41pflB26v+smFj9z6h9RPBgxTyZyxc+4YNEz7QEgZNWj/6rIb2MfyWMZmCc41CfjKSss"
    "oSZPXxOhUayb6KvNSZ1p6frOX1PDWzhyruXK7ouNND+gDsG4yZ0XXzsL4/pYNwLLba/71QrnkJ/BHcByk4EXnglj"
    "u5DLup9pJQSnTxjomI9Rxu57m9jg5lLQFxMWXyeASZJNvof0ulnHlWJswS4OxKOkmW7VEyKyLGV6npoOm03Qsx2w"
    "kRxLsSa9gPpg4hdaReeUqh1FMbm7aWjyrVYT/MEZWg98p4GomEIYvz34XfDncTezX4bf/ZiSLXt79aE1/YTZrYfy"
    "mXeCrGjlbe0rg/T2ezJHAC870u2vsVbY1/KcE2A443N+DEnAziXlBQ1AeWq3Rqk/O6/TMM0lomzgctAOiAMg+bh5"
    "+Gu1ubA9O3E+vehULydD5qx2o6i3+qA9ORbH415NyRrQdeFq5vmCiRikp5xYptWiGZA0tkoaLKMPQ4ndE5gWHqiB"
    "bGPfULZWokI+QjjhhBmwgbd6J0VqpRorwOuzC/BHdkP72DCdNcm7IDUpggnzBIy0+seWIkcHEryKjge3YDHpJeQC"
    "qrAH0CgxXHDt1xtbQbST1VqFyuhPhUjDXMXrknrGPN/oE1t0rLRq+78cI+k8xe5E6seeUXQsEe8r3358mpcDYSmX"
    "WSXVZxK6er9EF98APqHwcndyEJD2YyCh/mMVhERuX+7kjlRXSiNUWa/Cv/XAKFQuvUYA5ea2eYWtPRHa4DpyuF1S"
    "NsaqVKfgqKXZrJHfAgslVpSVqUpX4zkKszHF4kwMZO3M7J1P94Mxa7Tm9mTOJePOoHPXeEB+m9rX6pSfoi3mJDQ5"
    "inJ+Vc4gOkg/Wd/lqiy6TTyP/dHDN6/v+AuJx5AXBo/2NDD3fWhHjkqEKIuARr2ClZt9ZRQO4HkXdZo7CN06sGCH"
    "k48Tg8PmxnxKcMZm7Aoquv5yMIM2gWSWIRJhwJ8cUpafIHc+GesDlbF6Zbt+/KXkafJAQq2RklEN+WvZ/zFz113E"
    "PgWPjp16TwBoziq96MMekvWKY/vdhjol8VFtGH9F61Oy1Xwf6DJtPw=="
)


def test_v2_refund_req_info_sdk_sample():
    plaintext = crypto.aes_ecb_decrypt(crypto.v2_refund_key(SDK_REFUND_KEY), SDK_REQ_INFO)
    assert plaintext.startswith(b"<root>") and plaintext.rstrip().endswith(b"</root>")
    for field in (
        b"<out_refund_no><![CDATA[50fd012ed1b311e7af7800163e32c503]]></out_refund_no>",
        b"<refund_status><![CDATA[SUCCESS]]></refund_status>",
        b"<refund_fee><![CDATA[6]]></refund_fee>",
        b"<success_time><![CDATA[2017-11-25 15:36:17]]></success_time>",
        "<refund_recv_accout><![CDATA[支付用户零钱]]></refund_recv_accout>".encode(),
    ):
        assert field in plaintext
    # The uppercase hex MD5 (a common mistake) is another key: it must not decrypt.
    with pytest.raises(crypto.DecryptionError):
        crypto.aes_ecb_decrypt(crypto.v2_refund_key(SDK_REFUND_KEY).upper(), SDK_REQ_INFO)


def test_v3_request_message_doc_example():
    # The worked example of the v3 signing guide (docs/protocol.md C2): GET with an empty body.
    assert (
        crypto.v3_request_message(
            "get", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242"
        )
        == b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    )


def test_v3_response_message_for_204():
    assert crypto.v3_response_message("1554208460", "abc") == b"1554208460\nabc\n\n"


def test_authorization_header_shape_and_parse(merchant):
    header = crypto.v3_authorization(
        merchant["key"],
        "1900009191",
        "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
        "GET",
        "/v3/certificates",
        timestamp=1554208460,
        nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    assert header.startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900009191",')
    items = crypto.parse_v3_authorization(header)
    assert items["serial_no"] == "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
    message = crypto.v3_request_message(
        "GET", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242"
    )
    assert crypto.rsa_verify(merchant["public"], message, items["signature"])
    # Items may come in any order (wechatpayv3 puts signature before timestamp).
    reordered = (
        'WECHATPAY2-SHA256-RSA2048 signature="x",mchid="1",timestamp="2",'
        'serial_no="S",nonce_str="n"'
    )
    assert crypto.parse_v3_authorization(reordered)["mchid"] == "1"
    for bad in [
        "",
        "Bearer x",
        'WECHATPAY2-SHA256-RSA2048 mchid="1"',
        'WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str="n",timestamp="2",serial_no="S",signature="x"',
    ]:
        with pytest.raises(ValueError):
            crypto.parse_v3_authorization(bad)


# --- cross-checks with independent implementations ------------------------------------------


def test_rsa_signature_matches_pycryptodome(merchant):
    message = crypto.v3_request_message(
        "POST", "/v3/pay/transactions/jsapi", 1700000000, "NONCE", b'{"amount":{"total":1}}'
    )
    ours = crypto.rsa_sign(merchant["key"], message)
    theirs = pkcs1_15.new(RSA.import_key(merchant["pem"])).sign(SHA256.new(message))
    assert base64.b64decode(ours) == theirs  # PKCS#1 v1.5 is deterministic
    # And the other direction: their signature verifies with our verifier.
    assert crypto.rsa_verify(merchant["public"], message, base64.b64encode(theirs).decode())
    assert not crypto.rsa_verify(merchant["public"], message + b"x", ours)


def test_rsa_signature_matches_openssl_cli(merchant, tmp_path):
    require(shutil.which("openssl"), "the openssl command is not installed")
    message = crypto.v3_request_message(
        "GET", "/v3/pay/transactions/out-trade-no/123?mchid=1", 1700000000, "NONCE"
    )
    (tmp_path / "message").write_bytes(message)
    signature = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", merchant["path"], str(tmp_path / "message")],
        capture_output=True,
        check=True,
    ).stdout
    assert base64.b64encode(signature).decode() == crypto.rsa_sign(merchant["key"], message)


def test_pay_sign_matches_pycryptodome(merchant):
    ours = crypto.v3_pay_sign(
        merchant["key"],
        "wxd678efh567hg6787",
        "1490840662",
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "prepay_id=wx2017033010242291fcfe0db70013231072",
    )
    message = (
        b"wxd678efh567hg6787\n1490840662\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"
        b"prepay_id=wx2017033010242291fcfe0db70013231072\n"
    )
    theirs = pkcs1_15.new(RSA.import_key(merchant["pem"])).sign(SHA256.new(message))
    assert base64.b64decode(ours) == theirs


def test_aes_gcm_round_trips_with_pycryptodome():
    key, nonce, aad = b"0123456789abcdef0123456789abcdef", "VBNu9IF6GGnX", "transaction"
    plaintext = b'{"out_trade_no":"1217752501201407033233368018","amount":{"total":100}}'
    ours = crypto.aes_gcm_encrypt(key, nonce, plaintext, aad)
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce.encode())
    cipher.update(aad.encode())
    data = base64.b64decode(ours)
    assert cipher.decrypt_and_verify(data[:-16], data[-16:]) == plaintext
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce.encode())
    cipher.update(aad.encode())
    body, tag = cipher.encrypt_and_digest(plaintext)
    assert (
        crypto.aes_gcm_decrypt(key, nonce, base64.b64encode(body + tag).decode(), aad) == plaintext
    )


def test_oaep_round_trip(merchant):
    ciphertext = crypto.rsa_encrypt(merchant["public"], "张三")
    assert crypto.rsa_decrypt(merchant["key"], ciphertext) == "张三"


def test_certificate_serial_is_uppercase_hex(dev_keys):
    with open(dev_keys["WECHATPAY_CERT"], "rb") as f:
        serial = crypto.certificate_serial(f.read())
    assert serial == dev_keys["WECHATPAY_CERT_SERIAL"]
    assert len(serial) == 40 and serial == serial.upper()
    int(serial, 16)


def test_open_data_decrypt_official_demo_vector():
    # The demo of WeChat's "open data" guide (docs/protocol.md A2).
    encrypted = (
        "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC"
        "+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1po"
        "OFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL"
        "8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJA"
        "YB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVs"
        "AJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01E"
        "pqOyuxINew=="
    )
    plaintext = crypto.open_data_decrypt(
        "tiihtNczf5v6AKRyjwEUhQ==", "r7BXXKkLb8qrSNn05n0qiA==", encrypted
    )
    data = json.loads(plaintext)
    assert data["openId"] == "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
    assert data["unionId"] == "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"
    assert data["watermark"] == {"timestamp": 1477314187, "appid": "wx4f4bc4dec97d474b"}


def test_aes_ecb_matches_pycryptodome():
    key = crypto.v2_refund_key("192006250b4c09247ec02edce69f6a2d")
    for plaintext in (b"", b"x" * 15, b"y" * 16, "<root><a>退款</a></root>".encode() * 7):
        ours = crypto.aes_ecb_encrypt(key, plaintext)
        pad = 16 - len(plaintext) % 16  # PKCS#7, a whole block when already aligned
        theirs = AES.new(key, AES.MODE_ECB).encrypt(plaintext + bytes([pad]) * pad)
        assert base64.b64decode(ours) == theirs
        assert crypto.aes_ecb_decrypt(key, base64.b64encode(theirs).decode()) == plaintext


def test_aes_ecb_refuses_what_does_not_decrypt():
    key = crypto.v2_refund_key("192006250b4c09247ec02edce69f6a2d")
    bad_padding = AES.new(key, AES.MODE_ECB).encrypt(b"z" * 15 + b"\x11")
    for ciphertext in (base64.b64encode(bad_padding).decode(), "c2hvcnQ=", "not base64!", ""):
        with pytest.raises(crypto.DecryptionError):
            crypto.aes_ecb_decrypt(key, ciphertext)

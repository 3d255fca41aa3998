"""The simulator's mini-program login: wx.login codes redeemed at jscode2session
(docs/protocol.md A1)."""

import base64

import requests

from tests.support.simulator import start_sandbox


def mint(server, **body):
    return requests.post(server.url + "/sandbox/login-code", json=body, timeout=5).json()


def redeem(server, settings, code, **params):
    query = {
        "appid": settings["WECHAT_APPID"],
        "secret": settings["WECHAT_SECRET"],
        "js_code": code,
        "grant_type": "authorization_code",
        **params,
    }
    query = {k: v for k, v in query.items() if v is not None}
    response = requests.get(server.url + "/sns/jscode2session", params=query, timeout=5)
    assert response.status_code == 200  # WeChat reports login errors in the body only
    return response.json()


def assert_error(answer, errcode, errmsg):
    assert answer["errcode"] == errcode
    message, _, rid = answer["errmsg"].partition(", rid: ")
    assert message == errmsg and rid
    assert "openid" not in answer and "session_key" not in answer


def test_code_redeems_once_for_openid_and_session_key(sandbox, sandbox_settings):
    minted = mint(sandbox, openid="oUserA")
    answer = redeem(sandbox, sandbox_settings, minted["code"])
    assert answer["openid"] == "oUserA" == minted["openid"]
    assert len(answer["session_key"]) == 24 and answer["session_key"].endswith("==")
    assert len(base64.b64decode(answer["session_key"])) == 16
    assert_error(redeem(sandbox, sandbox_settings, minted["code"]), 40163, "code been used")


def test_session_key_is_stable_per_openid_and_openid_is_generated(sandbox, sandbox_settings):
    first = redeem(sandbox, sandbox_settings, mint(sandbox, openid="oUserB")["code"])
    second = redeem(sandbox, sandbox_settings, mint(sandbox, openid="oUserB")["code"])
    assert first["session_key"] == second["session_key"]
    generated = mint(sandbox)
    assert generated["openid"].startswith("o") and len(generated["openid"]) == 28
    assert redeem(sandbox, sandbox_settings, generated["code"])["openid"] == generated["openid"]


def test_unknown_and_expired_codes(sandbox, sandbox_settings):
    assert_error(redeem(sandbox, sandbox_settings, "nosuchcode"), 40029, "invalid code")
    expired = mint(sandbox, expires_in=-1)["code"]
    assert_error(redeem(sandbox, sandbox_settings, expired), 40029, "invalid code")


def test_wrong_or_missing_credentials(sandbox, sandbox_settings):
    code = mint(sandbox)["code"]
    assert_error(
        redeem(sandbox, sandbox_settings, code, secret="0" * 32), 40125, "invalid appsecret"
    )
    assert_error(
        redeem(sandbox, sandbox_settings, code, appid="wx0000000000000000"), 40013, "invalid appid"
    )
    assert_error(redeem(sandbox, sandbox_settings, code, appid=None), 41002, "appid missing")
    assert_error(redeem(sandbox, sandbox_settings, code, secret=None), 41004, "appsecret missing")
    assert_error(redeem(sandbox, sandbox_settings, None), 41008, "missing code")
    # None of the refusals used the code up.
    assert redeem(sandbox, sandbox_settings, code)["openid"]


def test_blocked_user(sandbox, sandbox_settings):
    code = mint(sandbox, blocked=True)["code"]
    assert_error(redeem(sandbox, sandbox_settings, code), 40226, "code blocked")


def test_per_user_rate_limit(sandbox_settings):
    server = start_sandbox(sandbox_settings, SANDBOX_LOGIN_RATE_LIMIT="2")
    try:
        answers = [
            redeem(server, sandbox_settings, mint(server, openid="oBusy")["code"]) for _ in range(3)
        ]
        assert [a.get("openid") for a in answers[:2]] == ["oBusy", "oBusy"]
        assert answers[2]["errcode"] == 45011
        assert redeem(server, sandbox_settings, mint(server, openid="oCalm")["code"])["openid"]
    finally:
        server.stop()

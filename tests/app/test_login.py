"""Mini-program login: code2Session through the simulator, and our own tokens."""

import pytest
import requests

# WeChat's answers and errors mapped to ours; the login's own writes run on PostgreSQL in every
# stack test (each logs in).
pytestmark = pytest.mark.database_agnostic


def login(stack, body):
    return requests.post(f"{stack.backend}/api/login", json=body)


def test_login_returns_our_token_and_never_the_session_key(stack):
    response = login(stack, {"code": stack.mint_code("o-carol")})
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"token", "expires_in", "user"}
    assert data["expires_in"] == 7200
    assert "session_key" not in response.text
    # The session key is kept on the server, and the token only as a hash.
    stored = stack.query("SELECT session_key FROM users WHERE openid = 'o-carol'")[0][0]
    assert stored and stored not in response.text
    assert (
        stack.query("SELECT count(*) FROM auth_tokens WHERE token_hash = :t", t=data["token"])[0][0]
        == 0
    )


def test_same_openid_is_the_same_user(stack):
    first = login(stack, {"code": stack.mint_code("o-dave")}).json()["user"]["id"]
    second = login(stack, {"code": stack.mint_code("o-dave")}).json()["user"]["id"]
    assert first == second
    assert stack.query("SELECT count(*) FROM users")[0][0] == 1


def test_used_and_unknown_codes_are_refused(stack):
    code = stack.mint_code()
    assert login(stack, {"code": code}).status_code == 200
    for body in [{"code": code}, {"code": "never-minted"}]:
        response = login(stack, body)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "INVALID_CODE"


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"not json",
        b"[]",
        b"{}",
        b'{"code": 5}',
        b'{"code": ""}',
        b'{"code": "' + b"x" * 200 + b'"}',
    ],
)
def test_malformed_login_bodies(stack, body):
    response = requests.post(
        f"{stack.backend}/api/login", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert stack.query("SELECT count(*) FROM users")[0][0] == 0


@pytest.mark.parametrize(
    "errcode, status, code",
    [
        (-1, 503, "WECHAT_UNAVAILABLE"),
        (45011, 429, "RATE_LIMITED"),
        (40226, 403, "LOGIN_BLOCKED"),
        (40013, 502, "WECHAT_ERROR"),
    ],
)
def test_wechat_login_errors(stack, errcode, status, code):
    stack.control(
        "faults",
        kind="api",
        path="/sns/jscode2session",
        code=str(errcode),
        message="simulated",
        status=200,
    )
    response = login(stack, {"code": stack.mint_code()})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_wechat_login_timeout_leaks_no_secret_to_logs(stack, caplog):
    caplog.set_level("DEBUG")
    stack.control("faults", kind="api", path="/sns/jscode2session", delay=3)
    response = login(stack, {"code": stack.mint_code()})
    assert (response.status_code, response.json()["error"]["code"]) == (503, "WECHAT_UNAVAILABLE")
    backend_logs = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]
    assert backend_logs and not any(stack.settings["WECHAT_SECRET"] in m for m in backend_logs)


def test_wrong_app_secret_is_a_server_side_error(make_stack):
    stack = make_stack()
    stack.app.extensions["wechat_login"]._secret = "0" * 32
    response = login(stack, {"code": stack.mint_code()})
    assert (response.status_code, response.json()["error"]["code"]) == (502, "WECHAT_ERROR")
    assert "0" * 32 not in response.text


def test_a_successful_login_at_debug_level_leaks_no_secret(stack, caplog):
    # urllib3 logs request URLs at DEBUG, and jscode2session's carries the app secret.
    caplog.set_level("DEBUG")
    assert login(stack, {"code": stack.mint_code()}).status_code == 200
    assert not any(
        stack.settings["WECHAT_SECRET"] in r.getMessage()
        for r in caplog.records
        if r.name != "werkzeug"
    )

"""`flask --app server doctor` against the simulator: a good configuration and each broken kind.

The doctor reads the backend's settings; each test breaks one the way a new user would, and the
doctor must name the check that fails and the setting to change. Nothing is ever paid.
"""

import os
import socket
import subprocess
import sys

import pytest
import requests

from sandbox.devkeys import _key_pem, _new_key, _public_pem, self_signed_certificate
from server.cli.doctor import (
    FAIL,
    OK,
    WARN,
    _command_name,
    _notify_url_check,
    app_for_broken_settings,
    diagnose,
)
from server.config import ConfigError
from server.wechat.api import MiniProgramApi
from server.wechatpay.crypto import certificate_serial
from tests.support import REPO


@pytest.fixture(scope="module")
def stranger_keys(tmp_path_factory):
    """A key pair and certificate that belong to nobody the simulator knows."""
    directory = tmp_path_factory.mktemp("stranger")
    key = _new_key()
    (directory / "key.pem").write_bytes(_key_pem(key))
    (directory / "pub.pem").write_bytes(_public_pem(key))
    cert = self_signed_certificate(key, "stranger")
    return {
        "private": str(directory / "key.pem"),
        "public": str(directory / "pub.pem"),
        "serial": certificate_serial(cert),
    }


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    """The doctor touches no database: SQLite is enough."""
    return f"sqlite:///{tmp_path / 'app.db'}"


def results(values, **broken):
    checks = diagnose({**values, **broken})
    return {check.name: check for check in checks}


def failed(checks):
    return {name: check for name, check in checks.items() if check.status == FAIL}


def test_a_good_public_key_configuration_passes(stack):
    output = stack.cli("doctor")
    assert "All checks passed." in output
    checks = results(stack.app.config)
    assert not failed(checks), checks
    assert checks["merchant key and serial"].status == OK
    assert checks["app secret"].status == OK
    assert stack.settings["WECHATPAY_PUBLIC_KEY_ID"] in checks["answers verify"].detail
    assert "public key only" in checks["platform certificates"].detail
    assert checks["APIv3 key"].status == WARN  # nothing to decrypt for such a merchant
    assert checks["v2 API key"].status == OK
    assert checks["notify URL"].status == WARN  # http is for the local simulator only


@pytest.mark.parametrize("mode", ["certificate", "migrating"])
def test_a_good_certificate_configuration_passes(make_stack, mode):
    overrides = {"SANDBOX_KEY_MODE": mode}
    if mode == "certificate":
        overrides.update(WECHATPAY_PUBLIC_KEY="", WECHATPAY_PUBLIC_KEY_ID="")
    stack = make_stack(**overrides)
    checks = results(stack.app.config)
    assert not failed(checks), checks
    assert checks["APIv3 key"].status == OK
    assert checks["answers verify"].status == OK


def test_a_wrong_serial(stack):
    checks = results(
        stack.app.config, WECHATPAY_CERT_SERIAL="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
    )
    check = failed(checks)["merchant key and serial"]
    assert "SIGN_ERROR" in check.detail or "signature" in check.detail
    assert "WECHATPAY_CERT_SERIAL" in check.fix


def test_a_wrong_private_key(stack, stranger_keys):
    checks = results(stack.app.config, WECHATPAY_PRIVATE_KEY=stranger_keys["private"])
    assert "WECHATPAY_PRIVATE_KEY" in failed(checks)["merchant key and serial"].fix


def test_a_wrong_apiv3_key(make_stack):
    stack = make_stack(
        SANDBOX_KEY_MODE="certificate", WECHATPAY_PUBLIC_KEY="", WECHATPAY_PUBLIC_KEY_ID=""
    )
    checks = results(stack.app.config, WECHATPAY_APIV3_KEY="0" * 32)
    assert list(failed(checks)) == ["APIv3 key"]
    assert "WECHATPAY_APIV3_KEY" in checks["APIv3 key"].fix


def test_a_wrong_public_key_id(stack):
    checks = results(
        stack.app.config, WECHATPAY_PUBLIC_KEY_ID="PUB_KEY_ID_0000000000000000000000000000000001"
    )
    check = failed(checks)["answers verify"]
    assert f"WECHATPAY_PUBLIC_KEY_ID={stack.settings['WECHATPAY_PUBLIC_KEY_ID']}" in check.fix


def test_a_wrong_public_key(stack, stranger_keys):
    checks = results(stack.app.config, WECHATPAY_PUBLIC_KEY=stranger_keys["public"])
    check = failed(checks)["answers verify"]
    assert "WECHATPAY_PUBLIC_KEY is not the key" in check.fix


def test_certificate_settings_for_a_public_key_merchant(make_stack):
    """The most reported problem since late 2024: set up as the old docs say."""
    stack = make_stack(backend_settings={"WECHATPAY_PUBLIC_KEY": "", "WECHATPAY_PUBLIC_KEY_ID": ""})
    output = stack.app.test_cli_runner().invoke(args=["doctor"]).output
    assert "problem(s) found" in output
    checks = failed(results(stack.app.config))
    assert set(checks) == {"platform certificates", "answers verify"}
    assert "WECHATPAY_PUBLIC_KEY_ID" in checks["platform certificates"].fix
    assert (
        f"WECHATPAY_PUBLIC_KEY_ID={stack.settings['WECHATPAY_PUBLIC_KEY_ID']}"
        in checks["answers verify"].fix
    )


def test_an_unreachable_base_url(stack):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens there
    checks = results(stack.app.config, WECHATPAY_API_BASE=f"http://127.0.0.1:{port}")
    assert "WECHATPAY_API_BASE" in failed(checks)["reach WeChat Pay"].fix
    assert "merchant key and serial" not in checks  # nothing more can be learnt


def test_a_wrong_v2_key(stack):
    checks = results(stack.app.config, WECHATPAY_API_KEY="k" * 32)
    assert "WECHATPAY_API_KEY" in failed(checks)["v2 API key"].fix


def test_v2_configuration(stack):
    checks = results(stack.app.config, WECHATPAY_API_VERSION="v2")
    assert checks["v2 API key"].status == OK
    assert "answers verify" not in checks


@pytest.mark.parametrize(
    "url, problem",
    [
        ("https://doctor-test.invalid/api/pay/notify", "does not resolve"),
        ("http://shop.example.com/api/pay/notify", "not HTTPS"),
        ("{backend}/api/pay/notfound", "answers HTTP 404"),
        ("http://127.0.0.1:{closed}/api/pay/notify", "does not answer"),
    ],
)
def test_bad_notify_urls(stack, url, problem):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    values = dict(
        stack.app.config, WECHATPAY_NOTIFY_URL=url.format(backend=stack.backend, closed=closed)
    )
    if "example.com" in url:
        # HTTPS is waived only while the API base is the local simulator: check the URL alone
        # as it would be checked against the real WeChat.
        values["WECHATPAY_API_BASE"] = "https://api.mch.weixin.qq.com"
        check = _notify_url_check(values, requests.Session())
    else:
        check = results(values)["notify URL"]
    assert check.status == FAIL and problem in check.detail, check
    assert "WECHATPAY_NOTIFY_URL" in check.fix or "nginx" in check.fix


def test_checkout_with_settings_that_do_not_fit_names_them(make_stack, caplog):
    """Without the doctor, the mismatch still says what to change, not "try again"."""
    stack = make_stack(backend_settings={"WECHATPAY_PUBLIC_KEY": "", "WECHATPAY_PUBLIC_KEY_ID": ""})
    response = stack.create_order(stack.login())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "PAYMENTS_MISCONFIGURED"
    assert "try again" not in response.json()["error"]["message"]
    assert "set WECHATPAY_PUBLIC_KEY_ID" in caplog.text
    assert stack.settings["WECHATPAY_PUBLIC_KEY_ID"] in caplog.text


def test_missing_settings_and_unreadable_keys(stack):
    checks = results(stack.app.config, WECHATPAY_CERT_SERIAL="")
    assert "WECHATPAY_CERT_SERIAL" in failed(checks)["settings"].fix
    checks = results(stack.app.config, WECHATPAY_PRIVATE_KEY="/nonexistent/apiclient_key.pem")
    assert "WECHATPAY_PRIVATE_KEY" in failed(checks)["settings"].detail


def test_the_backup_domain_is_checked(stack):
    checks = results(stack.app.config, WECHATPAY_API_BASE_BACKUP=stack.sandbox)
    assert checks["reach the backup domain"].status == OK
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    checks = results(stack.app.config, WECHATPAY_API_BASE_BACKUP=closed)
    assert checks["reach the backup domain"].status == WARN
    assert "WECHATPAY_API_BASE_BACKUP" in checks["reach the backup domain"].fix


def test_a_wrong_app_secret(stack):
    """It used to pass: nothing the doctor asked needed the mini program's secret."""
    wrong = "0" * 32
    checks = results(stack.app.config, WECHAT_SECRET=wrong)
    assert list(failed(checks)) == ["app secret"]
    assert "40125" in checks["app secret"].detail
    assert "WECHAT_SECRET" in checks["app secret"].fix
    assert wrong not in checks["app secret"].detail + checks["app secret"].fix


def test_a_wrong_appid(stack):
    checks = results(stack.app.config, WECHAT_APPID="wx0000000000000000")
    assert "WECHAT_APPID" in failed(checks)["app secret"].fix


def test_the_secret_check_leaves_the_shops_access_token_working(stack):
    """stable_token's normal mode: the doctor gets the token in force, never a new one that
    would invalidate the token every worker is using."""
    api = MiniProgramApi(
        appid=stack.settings["WECHAT_APPID"],
        secret=stack.settings["WECHAT_SECRET"],
        api_base=stack.sandbox,
    )
    token, _ = api.stable_token()
    assert results(stack.app.config)["app secret"].status == OK
    assert api.post("/wxa/sec/order/is_trade_managed", {"appid": api.appid}, token)


@pytest.fixture
def doctor_cli(dev_keys, tmp_path):
    """``flask --app server doctor`` as a person runs it: another process, settings from the
    environment (a good development set, then what each test breaks)."""

    def run(*command, **broken):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("WECHAT", "SANDBOX"))},
            **dev_keys,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "WECHAT_API_BASE": "http://127.0.0.1:9",
            "WECHATPAY_API_BASE": "http://127.0.0.1:9",
            "WECHATPAY_NOTIFY_URL": "http://127.0.0.1:9/api/pay/notify",
            "PYTHONPATH": str(REPO),
            "FLASK_SKIP_DOTENV": "1",
            **broken,
        }
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "server", *(command or ["doctor"])],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.mark.parametrize(
    "broken, problem, fix",
    [
        (
            {"WECHATPAY_APIV3_KEY": "too-short"},
            "WECHATPAY_APIV3_KEY must be exactly 32",
            "APIv3密钥",
        ),
        ({"APP_ENV": "prod"}, "APP_ENV must be one of", "APP_ENV=production"),
        (
            {"WECHATPAY_PRIVATE_KEY": "/nonexistent/apiclient_key.pem"},
            "WECHATPAY_PRIVATE_KEY names a file that cannot be read",
            "apiclient_key.pem",
        ),
        (
            {"WECHATPAY_PUBLIC_KEY": "/nonexistent/pub_key.pem"},
            "WECHATPAY_PUBLIC_KEY names a file that cannot be read",
            "pub_key.pem",
        ),
        (
            {"DATABASE_URL": "nosuchdriver://user:hunter2@db/shop"},
            "the app does not start",
            "DATABASE_URL",
        ),
    ],
)
def test_settings_that_stop_the_app_get_one_line_and_the_fix(doctor_cli, broken, problem, fix):
    """The app refuses these settings when it is built, before the doctor's checks could run:
    the doctor still says what is wrong and the fix, never a traceback."""
    result = doctor_cli(**broken)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("FAIL  settings: ") and problem in lines[0], lines
    assert lines[1].startswith("      fix: ") and fix in lines[1], lines
    assert lines[2:] == ["1 problem(s) found."]
    assert "hunter2" not in result.stdout + result.stderr


def test_other_commands_and_servers_still_stop_on_broken_settings(doctor_cli):
    """Only the doctor stands in for the app; a server or a job must not run without it."""
    result = doctor_cli("routes", APP_ENV="prod")
    assert result.returncode != 0 and "APP_ENV must be one of" in result.stderr
    error = ConfigError("APP_ENV must be one of development, production")
    assert app_for_broken_settings(error, ["--app", "server", "doctor"]) is None  # no CLI here
    assert _command_name(["--app", "server", "doctor"]) == "doctor"
    assert _command_name(["-e", "prod.env", "-A", "server", "--debug", "reconcile"]) == "reconcile"
    assert _command_name(["--app=server", "doctor", "--help"]) == "doctor"
    assert _command_name(["--help"]) is None

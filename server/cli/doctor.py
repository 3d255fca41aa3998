"""``flask --app server doctor``: check a WeChat Pay configuration without taking any money.

Every check makes a call that changes nothing at WeChat (or the simulator): the mini program's
access token in stable_token's normal mode (proves the app secret), a signed query of an order
that does not exist, the platform certificate list, a v2 ``orderquery``, a POST of an empty body
to our own notify URL. Each result is printed with the setting to change when it
fails, so a configuration that does not fit the merchant (set up for platform certificates
while the merchant has only a WeChat Pay public key, a wrong key id, a wrong APIv3 key) is found
before the first customer pays, not as a 503 at checkout.

Settings the app refuses to start with (a short APIv3 key, an unknown APP_ENV, a key file that
cannot be read) are a check too: one line saying what is wrong and one saying the fix, never a
traceback (``app_for_broken_settings``).

``diagnose(values)`` returns the checks as data (the tests read them); ``doctor`` is the
command.
"""

import json
import secrets
import socket
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

import click
import requests
from flask import Flask, current_app

from .. import stores
from ..channels import build_gateway
from ..config import ConfigError, required_names, validate
from ..wechat.api import MiniProgramApi
from ..wechatpay import crypto
from ..wechatpay.core.errors import ApiError, NotificationError, TransportError
from ..wechatpay.core.types import bound
from ..wechatpay.v2 import V2Gateway, V2PartnerGateway
from ..wechatpay.v3.keys import verify_signed_message
from . import common

OK, WARN, FAIL = "ok", "warn", "FAIL"
DOCTOR_TIMEOUT = 5  # seconds per call: a doctor that hangs is no help
PUBLIC_KEY_HELP = (
    "商户平台 → 账户中心 → API安全 → 微信支付公钥: download the key file and "
    "copy its ID (PUB_KEY_ID_...)"
)
CERT_SERIAL_HELP = (
    "商户平台 → 账户中心 → API安全 → API证书 → 管理证书 shows the serial of the "
    "certificate that belongs to apiclient_key.pem"
)
APP_SECRET_HELP = (
    "mp.weixin.qq.com → 开发 → 开发管理 → 开发设置 → AppSecret (reset it there if nobody "
    "kept it; the old one stops working)"
)
SETTINGS_DOC = "docs/configuration.md"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str
    fix: str = ""


def diagnose(values, session=None):
    """All checks for the configured API version, in order; stops early when nothing further
    can be learnt (no settings, nothing reachable)."""
    session = session or requests.Session()
    checks = []
    try:
        validate(values)
    except ConfigError as exc:
        return [settings_problem(exc)]
    version = values["WECHATPAY_API_VERSION"]
    missing = [name for name in required_names(values) if not values.get(name)]
    if missing:
        checks.append(
            Check(
                "settings",
                FAIL,
                f"missing: {', '.join(missing)}",
                f"set {', '.join(missing)} (see {SETTINGS_DOC})",
            )
        )
        return checks
    try:
        gateway = build_gateway(values, session, DOCTOR_TIMEOUT)
    except ConfigError as exc:
        return [settings_problem(exc)]
    except ValueError as exc:
        checks.append(Check("settings", FAIL, str(exc), "fix the setting named above"))
        return checks
    checks.append(
        Check(
            "settings",
            OK,
            f"API {version}, merchant {values['WECHATPAY_MCHID']}, "
            f"base {values['WECHATPAY_API_BASE']}",
        )
    )
    checks.append(_app_secret_check(values, session))
    if version == "v3":
        checks += _v3_checks(gateway, values)
        if stores.mode(values) == "provider" and checks[-1].status != FAIL:
            checks += _store_checks(gateway, values)
    if version == "v2" or values.get("WECHATPAY_API_KEY"):
        checks += _v2_checks(values, session)
    checks.append(_notify_url_check(values, session))
    return checks


# --- settings the app refuses --------------------------------------------------------------------

# What to do about each kind of ConfigError, by the setting it names and a phrase of its message.
# The message already says what is wrong; the fix says where the right value comes from.
_KEY_FILES = {
    "WECHATPAY_PRIVATE_KEY": "apiclient_key.pem (商户平台 → 账户中心 → API安全 → API证书)",
    "WECHATPAY_CERT": "apiclient_cert.pem (商户平台 → 账户中心 → API安全 → API证书)",
    "WECHATPAY_PUBLIC_KEY": "pub_key.pem (" + PUBLIC_KEY_HELP + ")",
}
_SETTING_FIXES = [
    (
        "WECHATPAY_APIV3_KEY",
        "32 characters",
        "copy the APIv3 key again from 商户平台 → 账户中心 → API安全 → APIv3密钥: exactly 32 "
        "characters, without quotes or spaces (it is not the v2 API key)",
    ),
    (
        "WECHATPAY_API_KEY",
        "32 characters",
        "copy the API key (v2) again from 商户平台 → 账户中心 → API安全 → API密钥: exactly 32 "
        "characters, without quotes or spaces (it is not the APIv3 key)",
    ),
    (
        "APP_ENV",
        "must be one of",
        "set APP_ENV=development (your machine, the simulator) or APP_ENV=production (a server "
        "taking real money), spelt exactly so",
    ),
    (
        "",
        "generated development key",
        "use the merchant's own files from 商户平台; instance/dev-keys/ only fits the simulator",
    ),
    (
        "",
        "not the simulator",
        "delete WECHAT_API_BASE and WECHATPAY_API_BASE (WeChat's servers are the defaults), "
        "or give a public https:// URL",
    ),
    ("", "required in production", f"set it ({SETTINGS_DOC} says what production needs)"),
]


def settings_problem(error):
    """The check for settings the app refuses: what is wrong, and where the right value is."""
    message = str(error)
    name = message.split(" ", 1)[0]
    fix = ""
    for setting, phrase, text in _SETTING_FIXES:
        if setting in (name, "") and phrase in message:
            fix = text
            break
    if not fix and name in _KEY_FILES and "cannot be read" in message:
        fix = (
            f"set {name} to the full path of {_KEY_FILES[name]}, readable by the user the "
            "backend runs as"
        )
    elif not fix and name in _KEY_FILES:
        fix = (
            f"{name} must be {_KEY_FILES[name]} as downloaded: PEM, no passphrase (from a .p12: "
            "openssl pkcs12 -in apiclient_cert.p12 -nodes; its password is the mchid)"
        )
    elif not fix and name.isupper():
        fix = f"change {name} as the line above says ({SETTINGS_DOC} lists every setting)"
    elif not fix:
        fix = f"{SETTINGS_DOC} lists every setting and what it takes"
    return Check("settings", FAIL, message, fix)


def app_for_broken_settings(error, argv=None):
    """``create_app``'s stand-in when the settings stop the app, for ``flask ... doctor`` only:
    an app whose one command is a doctor that reports ``error`` (one line and its fix, exit 1)
    instead of a traceback. None for anything else (a server, another command), which then
    fails as before."""
    if click.get_current_context(silent=True) is None:
        return None  # not the flask command (gunicorn, tests): the error stands
    if _command_name(sys.argv[1:] if argv is None else argv) != "doctor":
        return None
    if isinstance(error, ConfigError):
        checks = [settings_problem(error)]
    else:  # not one of ours: its text may quote a setting's value (a database URL's password)
        checks = [
            Check(
                "settings",
                FAIL,
                f"the app does not start: {type(error).__name__} (its message is not shown: "
                "it may quote a setting's value)",
                "check DATABASE_URL and the settings in "
                + SETTINGS_DOC
                + "; any other flask command shows the whole error",
            )
        ]
    app = Flask(__name__.split(".", 1)[0])

    @app.cli.command("doctor")
    def doctor():
        """Check the WeChat Pay settings against WeChat (or the simulator); takes no money."""
        _report(checks)

    return app


def _command_name(args):
    """The command ``flask`` was asked to run: the first argument that is not one of its own
    options (--app NAME, -e FILE, --debug ...)."""
    takes_value = {"-A", "--app", "-e", "--env-file"}
    args = iter(args)
    for arg in args:
        if arg in takes_value:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


# --- the mini program's app secret ---------------------------------------------------------------


def _app_secret_check(values, session):
    """Ask WeChat for the mini program's access token: only the right appid and secret get one.

    stable_token in its normal mode hands out the token in force, so this changes nothing for
    the shop's own calls (force_refresh would invalidate their token); the token is not kept.
    """
    name = "app secret"
    client = MiniProgramApi(
        appid=values["WECHAT_APPID"],
        secret=values["WECHAT_SECRET"],
        api_base=values["WECHAT_API_BASE"],
        session=session,
        timeout=DOCTOR_TIMEOUT,
    )
    try:
        client.stable_token(force_refresh=False)
    except ApiError as exc:
        said = f"{exc.code}: {exc.message}"
        if exc.code == "40125":
            return Check(
                name,
                FAIL,
                f"WeChat refused WECHAT_SECRET for {values['WECHAT_APPID']} ({said})",
                f"set WECHAT_SECRET to the mini program's AppSecret: {APP_SECRET_HELP}",
            )
        if exc.code == "40013":
            return Check(
                name,
                FAIL,
                f"WeChat does not know the appid {values['WECHAT_APPID']} ({said})",
                "set WECHAT_APPID to the mini program's AppID (wx..., mp.weixin.qq.com → 开发 → "
                "开发管理 → 开发设置)",
            )
        if exc.code in ("40164", "61004"):
            return Check(
                name,
                FAIL,
                f"WeChat refused this server's IP address ({said})",
                "add this server's public IP address to the IP whitelist: mp.weixin.qq.com → "
                "开发 → 开发管理 → 开发设置 → IP白名单",
            )
        if exc.code in ("-1", "45009", "45011"):
            return Check(
                name,
                WARN,
                f"WeChat did not answer the question now ({said})",
                "run the doctor again in a minute",
            )
        return Check(
            name,
            FAIL,
            f"WeChat refused the access token request ({said})",
            "check WECHAT_APPID and WECHAT_SECRET against " + APP_SECRET_HELP,
        )
    except TransportError as exc:
        return Check(
            name,
            FAIL,
            f"cannot reach {client.api_base}: {exc}",
            "check WECHAT_API_BASE, DNS and the firewall/proxy between this server and WeChat",
        )
    return Check(
        name,
        OK,
        f"WeChat gave an access token for {values['WECHAT_APPID']} (WECHAT_SECRET is right)",
    )


# --- API v3 --------------------------------------------------------------------------------------


def _v3_checks(gateway, values):
    checks = []
    path = f"/v3/pay/transactions/out-trade-no/DOCTOR{secrets.token_hex(8)}"
    try:  # _send, not query_order: the doctor reads WeChat's raw answer and its headers
        status, headers, raw = gateway._send("GET", path, query={"mchid": gateway.mchid})
    except TransportError as exc:
        return [
            Check(
                "reach WeChat Pay",
                FAIL,
                str(exc),
                "check WECHATPAY_API_BASE, DNS and the firewall/proxy between this "
                "server and WeChat Pay",
            )
        ]
    checks.append(Check("reach WeChat Pay", OK, gateway.api_base))
    checks += [_backup_check(gateway, base) for base in gateway.api_bases[1:]]
    answer = _json(raw)
    code = answer.get("code")
    if status == 404 and code in ("ORDER_NOT_EXIST", "ORDERNOTEXIST"):
        checks.append(
            Check(
                "merchant key and serial",
                OK,
                "a signed query was accepted (ORDER_NOT_EXIST, as expected)",
            )
        )
    elif status == 401 or code == "SIGN_ERROR":
        issue = json.dumps(answer.get("detail") or {}, ensure_ascii=False)[:300]
        checks.append(
            Check(
                "merchant key and serial",
                FAIL,
                f"WeChat refused our signature: {answer.get('message')} {issue}",
                "WECHATPAY_PRIVATE_KEY must be apiclient_key.pem and "
                "WECHATPAY_CERT_SERIAL the serial of its certificate ("
                + CERT_SERIAL_HELP
                + "); WECHATPAY_MCHID the merchant they belong to",
            )
        )
        return checks
    elif code in ("MCH_NOT_EXISTS", "NO_AUTH", "NOAUTH"):
        checks.append(
            Check(
                "merchant key and serial",
                FAIL,
                f"{code}: {answer.get('message')}",
                "check WECHATPAY_MCHID (and that WECHAT_APPID is bound to it)",
            )
        )
        return checks
    else:
        checks.append(
            Check(
                "merchant key and serial",
                FAIL,
                f"unexpected answer HTTP {status} {raw[:200]!r}",
                "is WECHATPAY_API_BASE really WeChat Pay (or the simulator)?",
            )
        )
        return checks

    certificates, certificate_checks = _certificate_checks(gateway, values)
    checks += certificate_checks
    checks.append(_answer_signature_check(headers, raw, values, gateway, certificates))
    return checks


def _store_checks(gateway, values):
    """A service provider's stores: a signed partner query of an order that does not exist,
    per sub_mchid (sp_mchid + sub_mchid). ORDER_NOT_EXIST means WeChat knows the sub-merchant
    as the provider's; anything else names the binding to fix (docs/provider.md)."""
    checks = []
    for store in stores.read(values):
        path = f"/v3/pay/partner/transactions/out-trade-no/DOCTOR{secrets.token_hex(8)}"
        name = f"store {store.name}"
        try:
            status, _headers, raw = gateway._send(
                "GET", path, query={"sp_mchid": gateway.mchid, "sub_mchid": store.sub_mchid}
            )
        except TransportError as exc:
            checks.append(Check(name, FAIL, str(exc), "check the network to WeChat Pay"))
            continue
        answer = _json(raw)
        code = answer.get("code")
        if status == 404 and code in ("ORDER_NOT_EXIST", "ORDERNOTEXIST"):
            checks.append(Check(name, OK, f"sub_mchid {store.sub_mchid} is the provider's"))
        else:
            key = f"WECHATPAY_STORE_{stores.row_name(store.name)}_SUB_MCHID"
            checks.append(
                Check(
                    name,
                    FAIL,
                    f"sub_mchid {store.sub_mchid}: HTTP {status} {code}: {answer.get('message')}",
                    f"check {key}, and that the sub-merchant is the provider's (服务商平台 → "
                    "服务商功能 → 特约商户管理) with the appids bound (docs/provider.md)",
                )
            )
    return checks


def _backup_check(gateway, base):
    """The backup domain only needs to answer at all; calls go there when the primary fails."""
    try:
        gateway.session.get(base + "/v3/certificates", timeout=DOCTOR_TIMEOUT)
    except requests.RequestException as exc:
        return Check(
            "reach the backup domain",
            WARN,
            f"{base} does not answer ({type(exc).__name__})",
            "allow it through the firewall/proxy, or set WECHATPAY_API_BASE_BACKUP= "
            "(empty) to turn failover off",
        )
    return Check("reach the backup domain", OK, base)


def _certificate_checks(gateway, values):
    """Download the platform certificates: proves the APIv3 key where the merchant has any."""
    has_public_key = bool(values.get("WECHATPAY_PUBLIC_KEY_ID"))
    try:
        status, _headers, raw = gateway._send("GET", "/v3/certificates")
    except TransportError as exc:
        return {}, [
            Check(
                "platform certificates", FAIL, str(exc), "retry; WeChat was reachable a moment ago"
            )
        ]
    answer = _json(raw)
    if status == 404 and answer.get("code") == "RESOURCE_NOT_EXISTS":
        if has_public_key:
            return {}, [
                Check(
                    "platform certificates",
                    OK,
                    "none: this merchant uses the WeChat Pay public key only",
                ),
                Check(
                    "APIv3 key",
                    WARN,
                    "cannot be checked without a platform certificate; the first "
                    "payment notification will tell (DECRYPT_FAILED in the log)",
                    "make sure WECHATPAY_APIV3_KEY is the key set in 商户平台 → API安全 "
                    "→ APIv3密钥",
                ),
            ]
        return {}, [
            Check(
                "platform certificates",
                FAIL,
                "this merchant has no platform certificate (merchants created since "
                "late 2024 have only a WeChat Pay public key): " + answer.get("message", ""),
                "set WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY (" + PUBLIC_KEY_HELP + ")",
            )
        ]
    if not 200 <= status < 300:
        return {}, [
            Check(
                "platform certificates",
                FAIL,
                f"HTTP {status} {raw[:200]!r}",
                "see WeChat's message above",
            )
        ]
    certificates = {}
    try:
        for item in answer.get("data", []):
            encrypted = item["encrypt_certificate"]
            pem = crypto.aes_gcm_decrypt(
                gateway.apiv3_key,
                encrypted["nonce"],
                encrypted["ciphertext"],
                encrypted["associated_data"],
            )
            certificates[crypto.certificate_serial(pem)] = crypto.load_public_key(pem)
    except crypto.DecryptionError:
        return {}, [
            Check("platform certificates", OK, f"{len(answer.get('data', []))} listed"),
            Check(
                "APIv3 key",
                FAIL,
                "the certificate list does not decrypt with WECHATPAY_APIV3_KEY",
                "set WECHATPAY_APIV3_KEY to the APIv3 key of 商户平台 → API安全 → "
                "APIv3密钥 (32 characters; not the v2 API key)",
            ),
        ]
    except (KeyError, TypeError, ValueError):
        return {}, [
            Check(
                "platform certificates",
                FAIL,
                "the certificate list is malformed",
                "is WECHATPAY_API_BASE really WeChat Pay?",
            )
        ]
    return certificates, [
        Check("platform certificates", OK, "serials " + ", ".join(sorted(certificates))),
        Check("APIv3 key", OK, "decrypts the platform certificates"),
    ]


def _answer_signature_check(headers, raw, values, gateway, certificates):
    """Which key WeChat signs with, and whether the configured one verifies it."""
    name = "answers verify"
    serial = headers.get("Wechatpay-Serial", "")
    if not serial:
        return Check(
            name,
            WARN,
            "WeChat's answer carried no signature to check",
            "none needed now; orders will verify their answers",
        )
    configured_id = values.get("WECHATPAY_PUBLIC_KEY_ID") or ""
    if serial.startswith("PUB_KEY_ID_"):
        if not configured_id:
            return Check(
                name,
                FAIL,
                f"WeChat signs with the WeChat Pay public key {serial}, which is not configured",
                f"set WECHATPAY_PUBLIC_KEY_ID={serial} and WECHATPAY_PUBLIC_KEY to that "
                f"key's file ({PUBLIC_KEY_HELP})",
            )
        if serial != configured_id:
            return Check(
                name,
                FAIL,
                f"WeChat signs with {serial}, but WECHATPAY_PUBLIC_KEY_ID is {configured_id}",
                f"set WECHATPAY_PUBLIC_KEY_ID={serial} and WECHATPAY_PUBLIC_KEY to its "
                f"file ({PUBLIC_KEY_HELP})",
            )
        key_for_serial = {serial: gateway.platform_keys.public_key}.get
        wrong_key_fix = (
            f"WECHATPAY_PUBLIC_KEY is not the key of {serial}: download it again ("
            + PUBLIC_KEY_HELP
            + ")"
        )
    else:
        key_for_serial = certificates.get
        wrong_key_fix = "the platform certificate list changed; run the doctor again"
        if not certificates:
            return Check(
                name,
                WARN,
                f"signed by platform certificate {serial}; not checked, "
                "since no certificate could be read",
                "fix the platform certificate checks above",
            )
        if serial not in certificates:
            return Check(
                name,
                FAIL,
                f"WeChat signs with platform certificate {serial}, which "
                "its certificate list does not include",
                "run the doctor again; if it persists, ask WeChat Pay support",
            )
    try:
        verify_signed_message(headers, raw, key_for_serial)
    except NotificationError as exc:
        return Check(
            name, FAIL, f"the answer signed by {serial} does not verify ({exc.code})", wrong_key_fix
        )
    return Check(name, OK, f"signed by {serial}, verified with the configured key")


# --- API v2 --------------------------------------------------------------------------------------


def _v2_checks(values, session):
    if not values.get("WECHATPAY_API_KEY"):
        return []
    provider = stores.mode(values) == "provider"
    gateway = (V2PartnerGateway if provider else V2Gateway)(
        appid=stores.sp_appid(values) if provider else values["WECHAT_APPID"],
        mchid=values["WECHATPAY_MCHID"],
        api_key=values["WECHATPAY_API_KEY"],
        sign_type=values["WECHATPAY_V2_SIGN_TYPE"],
        api_base=values["WECHATPAY_API_BASE"],
        session=session,
        timeout=DOCTOR_TIMEOUT,
    )
    checks = _v2_key_check(gateway)
    if provider and checks[-1].status == OK:
        checks += _v2_store_checks(gateway, values)
    return checks


def _v2_store_checks(gateway, values):
    """A service provider's stores over v2: ``orderquery`` of an order that does not exist
    with the store's ``sub_mch_id`` (and ``sub_appid``). ORDERNOTEXIST means WeChat knows the
    sub-merchant as the provider's (and the sub_appid as the sub-merchant's); anything else
    names the setting to check (docs/provider.md)."""
    checks = []
    for store in stores.read(values):
        name = f"store {store.name} (v2)"
        row = f"WECHATPAY_STORE_{stores.row_name(store.name)}_"
        ids = f"sub_mch_id {store.sub_mchid}" + (
            f", sub_appid {store.sub_appid}" if store.sub_appid else ""
        )
        view = bound(gateway, gateway.appid, store.sub_mchid, store.sub_appid)
        try:
            view.query_order(f"DOCTOR{secrets.token_hex(8)}")
        except ApiError as exc:
            if exc.code in ("ORDERNOTEXIST", "ORDER_NOT_EXIST"):
                checks.append(Check(name, OK, f"{ids}: the provider's (ORDERNOTEXIST)"))
                continue
            setting = row + ("SUB_APPID" if exc.code == "APPID_MCHID_NOT_MATCH" else "SUB_MCHID")
            checks.append(
                Check(
                    name,
                    FAIL,
                    f"{ids}: {exc.code}: {exc.message}",
                    f"check {setting}, and that the sub-merchant is the provider's (服务商平台 → "
                    "服务商功能 → 特约商户管理) with the appids bound (docs/provider.md)",
                )
            )
        except TransportError as exc:
            checks.append(Check(name, FAIL, str(exc), "check the network to WeChat Pay"))
        else:
            checks.append(
                Check(
                    name,
                    FAIL,
                    "orderquery found an order the doctor made up",
                    "is WECHATPAY_API_BASE really WeChat Pay?",
                )
            )
    return checks


def _v2_key_check(gateway):
    """A signed orderquery of an order that does not exist: ORDERNOTEXIST proves the v2 key."""
    name = "v2 API key"
    try:
        gateway.query_order(f"DOCTOR{secrets.token_hex(8)}")
    except ApiError as exc:
        if exc.code in ("ORDERNOTEXIST", "ORDER_NOT_EXIST"):
            return [
                Check(
                    name,
                    OK,
                    "a signed orderquery was accepted and its answer verified "
                    "(ORDERNOTEXIST, as expected)",
                )
            ]
        if "签名" in exc.message or exc.code == "SIGNERROR":
            return [
                Check(
                    name,
                    FAIL,
                    f"WeChat refused our v2 signature: {exc.message}",
                    "set WECHATPAY_API_KEY to the API key (v2) of 商户平台 → API安全 → "
                    "API密钥 (32 characters; not the APIv3 key); check "
                    "WECHATPAY_V2_SIGN_TYPE",
                )
            ]
        return [
            Check(
                name, FAIL, f"{exc.code}: {exc.message}", "check WECHAT_APPID and WECHATPAY_MCHID"
            )
        ]
    except TransportError as exc:
        return [
            Check(
                name,
                FAIL,
                str(exc),
                "check WECHATPAY_API_BASE, and WECHATPAY_API_KEY if the answer's sign "
                "did not verify",
            )
        ]
    return [
        Check(
            name,
            FAIL,
            "orderquery found an order the doctor made up",
            "is WECHATPAY_API_BASE really WeChat Pay?",
        )
    ]


# --- the notify URL ----------------------------------------------------------------------------


def _notify_url_check(values, session):
    name = "notify URL"
    url = values["WECHATPAY_NOTIFY_URL"]
    parts = urlsplit(url)
    local_simulator = urlsplit(values["WECHATPAY_API_BASE"]).hostname in (
        "127.0.0.1",
        "localhost",
        "::1",
    )
    if parts.scheme != "https" and not local_simulator:
        return Check(
            name,
            FAIL,
            f"{url} is not HTTPS; WeChat Pay calls only https:// URLs",
            "set WECHATPAY_NOTIFY_URL to https://<your domain>/api/pay/notify",
        )
    try:
        socket.getaddrinfo(parts.hostname, parts.port or 443)
    except (socket.gaierror, UnicodeError, TypeError):
        return Check(
            name,
            FAIL,
            f"{parts.hostname} does not resolve",
            "set WECHATPAY_NOTIFY_URL to a public domain name of this server",
        )
    try:
        # An unsigned, empty notification: our endpoint refuses it (4xx) and changes nothing.
        response = session.post(
            url, data=b"", timeout=DOCTOR_TIMEOUT, headers={"Content-Type": "application/json"}
        )
    except requests.RequestException as exc:
        return Check(
            name,
            FAIL,
            f"{url} does not answer ({type(exc).__name__})",
            "start the backend behind nginx there, open port 443, and check the TLS certificate",
        )
    if response.status_code in (404, 405) or response.status_code >= 500:
        return Check(
            name,
            FAIL,
            f"{url} answers HTTP {response.status_code}",
            "WECHATPAY_NOTIFY_URL must end in /api/pay/notify of this backend",
        )
    status = OK if parts.scheme == "https" else WARN
    note = "" if status == OK else " (http: fine for the local simulator only)"
    return Check(
        name, status, f"{url} answers (HTTP {response.status_code} to an unsigned probe){note}"
    )


def _json(raw):
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# --- the command ---------------------------------------------------------------------------------


def print_checks(checks, out=sys.stdout):
    for check in checks:
        print(f"{check.status:<4}  {check.name}: {check.detail}", file=out)
        if check.fix and check.status != OK:
            print(f"      fix: {check.fix}", file=out)


def _report(checks):
    print_checks(checks)
    failed = [check for check in checks if check.status == FAIL]
    click.echo(f"{len(failed)} problem(s) found." if failed else "All checks passed.")
    sys.exit(1 if failed else 0)


@common.command("doctor")
def doctor():
    """Check the WeChat Pay settings against WeChat (or the simulator); takes no money."""
    try:
        checks = diagnose(current_app.config)
    except Exception as exc:  # a doctor that crashes is no help: say so in one line
        checks = [
            Check(
                "doctor",
                FAIL,
                f"stopped by an unexpected {type(exc).__name__} (not shown: it may quote "
                "a setting)",
                "report it as a bug, with what you ran; the settings may still be right",
            )
        ]
    _report(checks)


COMMANDS = (doctor,)

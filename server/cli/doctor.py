"""``flask --app server doctor``: check a WeChat Pay configuration without taking any money.

Every check makes a call that changes nothing at WeChat (or the simulator): a signed query of an
order that does not exist, the platform certificate list, a v2 ``orderquery``, a POST of an
empty body to our own notify URL. Each result is printed with the setting to change when it
fails, so a configuration that does not fit the merchant (set up for platform certificates
while the merchant has only a WeChat Pay public key, a wrong key id, a wrong APIv3 key) is found
before the first customer pays, not as a 503 at checkout.

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
from flask import current_app

from ..channels import build_gateway
from ..config import ConfigError, required_names
from ..wechatpay import crypto
from ..wechatpay.core.errors import ApiError, NotificationError, TransportError
from ..wechatpay.v2 import V2Gateway
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
    version = values["WECHATPAY_API_VERSION"]
    missing = [name for name in required_names(values) if not values.get(name)]
    if missing:
        checks.append(
            Check(
                "settings",
                FAIL,
                f"missing: {', '.join(missing)}",
                f"set {', '.join(missing)} (see the README)",
            )
        )
        return checks
    try:
        gateway = build_gateway(values, session, DOCTOR_TIMEOUT)
    except (ConfigError, ValueError) as exc:
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
    if version == "v3":
        checks += _v3_checks(gateway, values)
    if version == "v2" or values.get("WECHATPAY_API_KEY"):
        checks += _v2_checks(values, session)
    checks.append(_notify_url_check(values, session))
    return checks


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
    gateway = V2Gateway(
        appid=values["WECHAT_APPID"],
        mchid=values["WECHATPAY_MCHID"],
        api_key=values["WECHATPAY_API_KEY"],
        sign_type=values["WECHATPAY_V2_SIGN_TYPE"],
        api_base=values["WECHATPAY_API_BASE"],
        session=session,
        timeout=DOCTOR_TIMEOUT,
    )
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


@common.command("doctor")
def doctor():
    """Check the WeChat Pay settings against WeChat (or the simulator); takes no money."""
    checks = diagnose(current_app.config)
    print_checks(checks)
    failed = [check for check in checks if check.status == FAIL]
    click.echo(f"{len(failed)} problem(s) found." if failed else "All checks passed.")
    sys.exit(1 if failed else 0)


COMMANDS = (doctor,)

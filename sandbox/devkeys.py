"""Development keys and settings: everything a fresh machine needs to run against the simulator.

``python -m sandbox.devkeys --dir instance/dev-keys --env .env`` creates, once:

- the merchant's API key pair and a self-signed merchant certificate (its serial is what the
  merchant puts in ``serial_no``; the simulator verifies requests with the certificate),
- the simulator's platform key and certificate (certificate mode),
- a second key pair for WeChat Pay public key mode (``PUB_KEY_ID_...``),
- random APIv3 and v2 keys, an appid, a secret, a mchid and a ``SECRET_KEY``,

and writes them to the env file. Existing files are left alone, so it is safe to run on every
``make dev``. None of this is ever valid against the real WeChat Pay.
"""

import argparse
import base64
import datetime
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from server.config import DEV_CERT_ORGANIZATION, DEV_KEYS_MARKER, DEV_MODULUS_MARK
from server.wechatpay.crypto import certificate_serial


def _new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _development_key():
    """A 2048-bit RSA key whose modulus carries ``DEV_MODULUS_MARK`` in its top 64 bits.

    The mark is in the key itself, so the backend recognises a development key wherever it is
    copied and whatever the file looks like (a private key, its public key, a certificate),
    and every PEM reader and SDK still reads the file. Lenstra's construction: p is a random
    1024-bit prime; q is the first prime above target / p, which keeps n's top half = target's.
    A real key carries the mark by chance with probability 2**-64.
    """
    e = 65537
    while True:
        p = _new_key().private_numbers().p  # a random 1024-bit prime, made by OpenSSL
        target = (1 << 2047) | (DEV_MODULUS_MARK << 1983) | secrets.randbits(1983)
        q = _next_prime(target // p | 1)
        n = p * q
        if (
            n.bit_length() == 2048
            and (n >> 1983) & (2**64 - 1) == DEV_MODULUS_MARK
            and (p - 1) * (q - 1) % e
            and p != q
        ):
            break
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, n),
    )
    return numbers.private_key()


_SMALL_PRIMES = [n for n in range(3, 2000, 2) if all(n % f for f in range(3, int(n**0.5) + 1, 2))]


def _next_prime(candidate):
    while not _probably_prime(candidate):
        candidate += 2
    return candidate


def _probably_prime(n, rounds=40):
    """Miller-Rabin with random bases, after trial division by the small primes."""
    if any(n % f == 0 for f in _SMALL_PRIMES):
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def self_signed_certificate(key, common_name, days=3650):
    """A self-signed certificate whose serial prints as exactly 40 uppercase hex digits."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_CERT_ORGANIZATION),
        ]
    )
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    serial = secrets.randbelow(2**159 - 2**156) + 2**156
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def generate(key_dir):
    """Create the key files in ``key_dir`` (if missing) and return the settings naming them."""
    key_dir = Path(key_dir).resolve()
    key_dir.mkdir(parents=True, exist_ok=True)
    # The backend refuses, in production, any key that lies beside this marker.
    (key_dir / DEV_KEYS_MARKER).write_text(
        "These keys were generated for the local WeChat simulator. Never deploy them.\n"
    )

    def write(name, data):
        path = key_dir / name
        if not path.exists():
            path.write_bytes(data)
            if "key" in name and "pub" not in name:
                path.chmod(0o600)
        return str(path)

    def pair(prefix, with_cert):
        key_path = key_dir / f"{prefix}_key.pem"
        if key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        else:
            key = _development_key()
            write(key_path.name, _key_pem(key))
        cert_path = (
            write(f"{prefix}_cert.pem", self_signed_certificate(key, prefix))
            if with_cert
            else write(f"{prefix}_pub.pem", _public_pem(key))
        )
        return str(key_path), cert_path

    merchant_key, merchant_cert = pair("merchant", with_cert=True)
    platform_key, platform_cert = pair("platform", with_cert=True)
    pubkey_private, pubkey_public = pair("wechatpay_pubkey", with_cert=False)
    return {
        "WECHATPAY_PRIVATE_KEY": merchant_key,
        "WECHATPAY_CERT": merchant_cert,
        "WECHATPAY_CERT_SERIAL": certificate_serial(Path(merchant_cert).read_bytes()),
        "SANDBOX_PLATFORM_KEY": platform_key,
        "SANDBOX_PLATFORM_CERT": platform_cert,
        "SANDBOX_PUBLIC_KEY_PRIVATE": pubkey_private,
        "WECHATPAY_PUBLIC_KEY": pubkey_public,
    }


def fresh_secrets():
    """Random identities and secrets for one development environment."""
    return {
        "APP_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "WECHAT_APPID": "wx" + secrets.token_hex(8),
        "WECHAT_SECRET": secrets.token_hex(16),
        # The official account of the web shop inside WeChat (docs/web-shop.md).
        "WECHAT_OA_APPID": "wx" + secrets.token_hex(8),
        "WECHAT_OA_SECRET": secrets.token_hex(16),
        # A native app's appid and secret (open platform): APP payments, the app's sign-in.
        "WECHAT_APP_APPID": "wx" + secrets.token_hex(8),
        "WECHAT_APP_SECRET": secrets.token_hex(16),
        "WECHATPAY_MCHID": str(1900000000 + secrets.randbelow(99999999)),
        "WECHATPAY_APIV3_KEY": secrets.token_hex(16),
        "WECHATPAY_API_KEY": secrets.token_hex(16),
        # The mini program's message push (Token and EncodingAESKey), in the secure mode.
        "WECHAT_PUSH_TOKEN": secrets.token_hex(16),
        "WECHAT_PUSH_AES_KEY": base64.b64encode(secrets.token_bytes(32)).decode()[:43],
        "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_"
        + "".join(str(secrets.randbelow(10)) for _ in range(34)),
        # A merchant created today: the backend above is set up with the public key.
        "SANDBOX_KEY_MODE": "public-key",
    }


def read_env(path):
    values = {}
    if Path(path).exists():
        for line in Path(path).read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                values[key.strip()] = value.strip()
    return values


def ensure_env(key_dir, env_path, overrides=None, wiring=None):
    """Write ``env_path`` with development settings; keep whatever it already says, except
    ``wiring`` (URLs of this run's servers), which always replaces it."""
    existing = read_env(env_path)
    values = {
        **fresh_secrets(),
        **generate(key_dir),
        **(overrides or {}),
        **existing,
        **(wiring or {}),
    }
    lines = [
        "# Development settings written by `python -m sandbox.devkeys`.",
        "# For the local simulator only; docs/going-live.md says how to move to a real merchant.",
    ]
    lines += [f"{key}={value}" for key, value in values.items()]
    Path(env_path).write_text("\n".join(lines) + "\n")
    os.chmod(env_path, 0o600)
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="instance/dev-keys", help="where the key files go")
    parser.add_argument("--env", default=".env", help="the env file to write")
    args = parser.parse_args()
    ensure_env(args.dir, args.env)
    print(f"development keys in {args.dir}, settings in {args.env}")


if __name__ == "__main__":
    main()

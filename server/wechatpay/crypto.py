"""The cryptographic primitives of WeChat Pay, as small pure functions.

Everything here works on bytes and strings only: no Flask, no database, no HTTP. The backend's
protocol clients and the local simulator both build on these functions, so the tests pin each
one to the official test vectors in ``docs/protocol.md`` and cross-check the v3
path against an independent implementation.
"""

import base64
import hashlib
import hmac
import secrets
import time

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

V3_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"


class DecryptionError(Exception):
    """A ciphertext did not decrypt: wrong key, wrong nonce or associated data, or tampering."""


def nonce(length=32):
    """A random alphanumeric string for nonce_str / nonce: hex digits (WeChat asks for letters
    and digits, at most 32), 4 bits each, from one draw of the OS's randomness (a
    ``secrets.choice`` per character took 0.1 ms a nonce on the 2-core machine: 70x this)."""
    return secrets.token_hex((length + 1) // 2)[:length]


def now():
    """Unix seconds, as WeChat puts them in signatures."""
    return int(time.time())


# --- keys --------------------------------------------------------------------------------------


def load_private_key(pem):
    """Parse a PEM RSA private key (PKCS#8 or PKCS#1). Parse once and keep the object."""
    key = serialization.load_pem_private_key(_bytes(pem), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(pem):
    """An RSA public key from a PEM public key (public key mode) or a PEM certificate."""
    data = _bytes(pem)
    if b"-----BEGIN CERTIFICATE-----" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def certificate_serial(pem):
    """The serial number WeChat uses for a certificate: uppercase hex of the X.509 serial."""
    return format(x509.load_pem_x509_certificate(_bytes(pem)).serial_number, "X")


# --- RSA: SHA256withRSA (PKCS#1 v1.5) and OAEP --------------------------------------------------


def rsa_sign(private_key, message):
    """Base64 SHA256withRSA (PKCS#1 v1.5) signature of ``message``."""
    signature = private_key.sign(_bytes(message), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_verify(public_key, message, signature_b64):
    """True only when ``signature_b64`` is a valid SHA256withRSA signature of ``message``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, _bytes(message), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)


def rsa_encrypt(public_key, plaintext):
    """RSA-OAEP (SHA-1) encryption of a sensitive field, base64 (docs/protocol.md C10)."""
    return base64.b64encode(public_key.encrypt(_bytes(plaintext), _OAEP)).decode()


def rsa_decrypt(private_key, ciphertext_b64):
    return private_key.decrypt(base64.b64decode(ciphertext_b64), _OAEP).decode()


# --- API v3 messages ---------------------------------------------------------------------------


def v3_request_message(method, url, timestamp, nonce_str, body=b""):
    """The five-line message a merchant signs: METHOD, canonical URL, timestamp, nonce, body."""
    head = f"{method.upper()}\n{url}\n{timestamp}\n{nonce_str}\n".encode()
    return head + _bytes(body) + b"\n"


def v3_response_message(timestamp, nonce_str, body=b""):
    """The three-line message WeChat signs on responses and notifications."""
    return f"{timestamp}\n{nonce_str}\n".encode() + _bytes(body) + b"\n"


def v3_authorization(
    private_key, mchid, serial_no, method, url, body=b"", timestamp=None, nonce_str=None
):
    """The ``Authorization`` header value for one v3 request."""
    timestamp = timestamp or now()
    nonce_str = nonce_str or nonce()
    signature = rsa_sign(private_key, v3_request_message(method, url, timestamp, nonce_str, body))
    return (
        f'{V3_SCHEMA} mchid="{mchid}",nonce_str="{nonce_str}",timestamp="{timestamp}",'
        f'serial_no="{serial_no}",signature="{signature}"'
    )


def parse_v3_authorization(header):
    """The items of an ``Authorization`` header as a dict; the items may come in any order.

    Raises ValueError on anything that is not ``WECHATPAY2-SHA256-RSA2048 k="v",...``.
    """
    schema, _, rest = (header or "").partition(" ")
    if schema != V3_SCHEMA or not rest:
        raise ValueError("not a WECHATPAY2-SHA256-RSA2048 authorization")
    items = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or len(value) < 2 or value[0] != '"' or value[-1] != '"':
            raise ValueError(f"malformed authorization item {key!r}")
        items[key] = value[1:-1]
    missing = {"mchid", "nonce_str", "timestamp", "serial_no", "signature"} - items.keys()
    if missing:
        raise ValueError(f"authorization lacks {', '.join(sorted(missing))}")
    return items


def v3_pay_sign(private_key, appid, timestamp, nonce_str, package):
    """``paySign`` for ``wx.requestPayment`` with signType RSA (docs/protocol.md C9)."""
    return rsa_sign(private_key, f"{appid}\n{timestamp}\n{nonce_str}\n{package}\n")


# --- AES-256-GCM (v3 notifications and certificates) -------------------------------------------


def aes_gcm_encrypt(key, nonce_str, plaintext, associated_data=""):
    """Base64 of ciphertext || tag, as WeChat puts it in ``resource.ciphertext``."""
    data = AESGCM(_bytes(key)).encrypt(
        _bytes(nonce_str), _bytes(plaintext), _bytes(associated_data)
    )
    return base64.b64encode(data).decode()


def aes_gcm_decrypt(key, nonce_str, ciphertext_b64, associated_data=""):
    """Decrypt a v3 ``resource``; raises DecryptionError on any failure."""
    try:
        data = base64.b64decode(ciphertext_b64, validate=True)
        return AESGCM(_bytes(key)).decrypt(_bytes(nonce_str), data, _bytes(associated_data))
    except (InvalidTag, ValueError, TypeError) as exc:
        raise DecryptionError("AES-GCM decryption failed") from exc


# --- API v2 signatures ------------------------------------------------------------------------

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"


def v2_sign_string(params, api_key):
    """``stringSignTemp``: non-empty params but ``sign``, sorted by name, then ``&key=``."""
    pairs = sorted((k, str(v)) for k, v in params.items() if k != "sign" and v not in (None, ""))
    return "&".join(f"{k}={v}" for k, v in pairs) + f"&key={api_key}"


def v2_sign(params, api_key, sign_type=MD5):
    """The v2 ``sign`` (uppercase hex) of ``params`` with the 32-character API key."""
    message = v2_sign_string(params, api_key).encode()
    if sign_type == MD5:
        return hashlib.md5(message).hexdigest().upper()
    if sign_type == HMAC_SHA256:
        return hmac.new(api_key.encode(), message, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown v2 sign_type {sign_type!r}")


def v2_verify(params, api_key, sign_type=MD5):
    """Constant-time check of ``params['sign']``; False when it is missing or wrong."""
    received = params.get("sign")
    if not isinstance(received, str) or not received:
        return False
    return hmac.compare_digest(
        received.upper().encode(), v2_sign(params, api_key, sign_type).encode()
    )


def v2_refund_key(api_key):
    """The AES-256-ECB key for v2 refund notifications: lowercase hex MD5 of the API key."""
    return hashlib.md5(api_key.encode()).hexdigest().encode()


def aes_ecb_decrypt(key, ciphertext_b64):
    """AES-256-ECB + PKCS#7 (v2 refund notification ``req_info``)."""
    try:
        decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
        padded = decryptor.update(base64.b64decode(ciphertext_b64, validate=True))
        padded += decryptor.finalize()
        return _pkcs7_unpad(padded)
    except ValueError as exc:
        raise DecryptionError("AES-ECB decryption failed") from exc


def aes_ecb_encrypt(key, plaintext):
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    data = _bytes(plaintext)
    pad = 16 - len(data) % 16
    data += bytes([pad]) * pad
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()


# --- mini-program open data (docs/protocol.md A2) -------------------------------------------------


def open_data_signature(raw_data, session_key):
    """sha1(rawData + session_key), lowercase hex."""
    return hashlib.sha1(_bytes(raw_data) + _bytes(session_key)).hexdigest()


def open_data_decrypt(session_key, iv, encrypted_data):
    """AES-128-CBC + PKCS#7 decryption of ``encryptedData`` with the user's session_key."""
    try:
        decryptor = Cipher(
            algorithms.AES(base64.b64decode(session_key)), modes.CBC(base64.b64decode(iv))
        ).decryptor()
        padded = decryptor.update(base64.b64decode(encrypted_data)) + decryptor.finalize()
        return _pkcs7_unpad(padded)
    except ValueError as exc:
        raise DecryptionError("AES-CBC decryption failed") from exc


def _pkcs7_unpad(padded):
    pad = padded[-1] if padded else 0
    if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad PKCS#7 padding")
    return padded[:-pad]


def _bytes(value):
    return value.encode() if isinstance(value, str) else bytes(value)

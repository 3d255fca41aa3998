"""Message push (消息推送) from WeChat to the mini program's server: signatures and the
encrypted mode (安全模式).

- The GET handshake and every plaintext push carry ``signature = sha1(sorted(token, timestamp,
  nonce))`` in the query string.
- In the encrypted mode the body is ``{"ToUserName", "Encrypt"}``, and ``msg_signature =
  sha1(sorted(token, timestamp, nonce, Encrypt))``. ``Encrypt`` is base64 of AES-256-CBC
  (key = base64 of the 43-character EncodingAESKey plus "=", IV = the key's first 16 bytes,
  PKCS#7 padding to 32-byte blocks) over: 16 random bytes, the message length as 4 bytes big
  endian, the message, and the appid it is addressed to.

Pinned to WeChat's published sample (``tests/test_push_crypto.py``).
"""

import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16


class PushError(ValueError):
    """A push that is not WeChat's (bad signature, wrong appid, undecryptable)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def signature(token, timestamp, nonce, *more):
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, *more])).encode()).hexdigest()


def check_signature(expected, token, timestamp, nonce, *more):
    if not isinstance(expected, str) or not hmac.compare_digest(
        expected.encode(), signature(token, timestamp, nonce, *more).encode()
    ):
        raise PushError("BAD_SIGNATURE", "the push signature does not match")


def aes_key(encoding_aes_key):
    """The 32-byte key behind a 43-character EncodingAESKey; ValueError when it is not one."""
    if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != 43:
        raise ValueError("an EncodingAESKey has 43 characters")
    key = base64.b64decode(encoding_aes_key + "=", validate=True)
    if len(key) != 32:
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return key


def decrypt(key, encrypted, appid):
    """The plaintext message of an ``Encrypt`` field addressed to ``appid``."""
    try:
        data = base64.b64decode(encrypted, validate=True)
        if not data or len(data) % BLOCK:
            raise ValueError
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        pad = padded[-1]
        if not 1 <= pad <= BLOCK or padded[-pad:] != bytes([pad]) * pad:
            raise ValueError
        plain = padded[:-pad]
        (length,) = struct.unpack(">I", plain[16:20])
        message, receiver = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise ValueError
    except (ValueError, TypeError, struct.error):
        raise PushError("UNDECRYPTABLE", "the push does not decrypt with our key") from None
    if not hmac.compare_digest(receiver, appid.encode()):
        raise PushError("WRONG_APPID", "the push is addressed to another appid")
    return message


def encrypt(key, message, appid, random_prefix=None):
    """The ``Encrypt`` field for ``message`` (bytes): what WeChat (here, the simulator) sends."""
    plain = (
        (random_prefix or os.urandom(16))
        + struct.pack(">I", len(message))
        + message
        + appid.encode()
    )
    pad = BLOCK - len(plain) % BLOCK
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(
        encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
    ).decode()

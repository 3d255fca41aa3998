"""Settings a real deployment could start with: keys of its own, not development keys."""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from sandbox.devkeys import _key_pem, _new_key, _public_pem


def merchant_certificate(key):
    """A certificate like the one WeChat Pay issues a merchant (not a simulator one)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "1900000109"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "WeChat Pay"),
        ]
    )
    start = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def production_settings(dev_keys, directory):
    """Production settings (APP_ENV=production, real-looking hosts) with fresh merchant keys
    written to ``directory``."""
    merchant_key = _new_key()
    key = directory / "apiclient_key.pem"
    key.write_bytes(_key_pem(merchant_key))
    public = directory / "pub_key.pem"
    public.write_bytes(_public_pem(_new_key()))
    cert = directory / "apiclient_cert.pem"
    cert.write_bytes(merchant_certificate(merchant_key))
    return {
        **dev_keys,
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "WECHATPAY_PRIVATE_KEY": str(key),
        "WECHATPAY_PUBLIC_KEY": str(public),
        "WECHATPAY_CERT": str(cert),
        "TRUSTED_HOSTS": "pay.example.com",
        "DATABASE_URL": f"sqlite:///{directory / 'app.db'}",
        "WECHAT_API_BASE": "https://api.weixin.qq.com",
        "WECHATPAY_API_BASE": "https://api.mch.weixin.qq.com",
        "WECHATPAY_NOTIFY_URL": "https://pay.example.com/api/pay/notify",
    }

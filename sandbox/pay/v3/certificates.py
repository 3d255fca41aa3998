"""``GET /v3/certificates``: the platform certificates, AES-GCM encrypted with the APIv3 key;
404 RESOURCE_NOT_EXISTS for a merchant that has only a WeChat Pay public key."""

from flask import current_app

from server.wechatpay.crypto import aes_gcm_encrypt, nonce

from ...wire import json_response, rfc3339
from .core import ApiError, blueprint

NO_PLATFORM_CERTIFICATE = (
    "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。可查看指引"
    "https://pay.weixin.qq.com/docs/merchant/products/platform-certificate/"
    "wxp-pub-key-guide.html"
)


bp = blueprint("v3_certificates", __name__)


def _state():
    return current_app.extensions["sandbox"]


@bp.get("/v3/certificates")
def certificates():
    from cryptography import x509

    state = _state()
    if state.config.platform is None:
        # What WeChat answers a merchant that has only a WeChat Pay public key (seen in SDK
        # trackers since late 2024, e.g. wechatpay-java#306, jeepay#73).
        raise ApiError(404, "RESOURCE_NOT_EXISTS", NO_PLATFORM_CERTIFICATE)
    data = []
    for pem in [state.config.platform_cert_pem, *state.retired_platform_certs]:
        cert = x509.load_pem_x509_certificate(pem.encode())
        nonce_str = nonce(12)
        data.append(
            {
                "serial_no": format(cert.serial_number, "X"),
                "effective_time": rfc3339(cert.not_valid_before_utc.timestamp()),
                "expire_time": rfc3339(cert.not_valid_after_utc.timestamp()),
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce_str,
                    "associated_data": "certificate",
                    "ciphertext": aes_gcm_encrypt(
                        state.config.apiv3_key, nonce_str, pem, "certificate"
                    ),
                },
            }
        )
    return json_response({"data": data})

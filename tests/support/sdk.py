"""wechatpayv3 (the Python SDK by minibear2021) pointed at the simulator, as a merchant uses it.

wechatpayv3 hard-codes its host in ``Core._gate_way`` with no constructor argument, so the base
URL is set on that attribute; it is the only change from production use.
"""

from pathlib import Path

from tests.support import require
from tests.support.simulator import platform_serial

try:
    from wechatpayv3 import WeChatPay, WeChatPayType
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    WeChatPay = None


def make_sdk(sandbox, settings, cert_dir=None, public_key_mode=False, partner_mode=False):
    require(WeChatPay is not None, "wechatpayv3 is not installed (requirements-dev.txt)")
    extra = {}
    if public_key_mode:
        extra = {
            "public_key": Path(settings["WECHATPAY_PUBLIC_KEY"]).read_text(),
            "public_key_id": settings["WECHATPAY_PUBLIC_KEY_ID"],
        }
    else:
        # wechatpayv3 loads platform certificates at construction, before we can point it
        # at the simulator, so hand it the certificate the way its cert_dir option allows.
        cert = Path(settings["SANDBOX_PLATFORM_CERT"]).read_text()
        (cert_dir / f"{platform_serial(settings)}.pem").write_text(cert)
        extra = {"cert_dir": str(cert_dir)}
    sdk = WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=settings["WECHATPAY_MCHID"],
        private_key=Path(settings["WECHATPAY_PRIVATE_KEY"]).read_text(),
        cert_serial_no=settings["WECHATPAY_CERT_SERIAL"],
        appid=settings["WECHAT_APPID"],
        apiv3_key=settings["WECHATPAY_APIV3_KEY"],
        notify_url=None,
        timeout=(5, 10),
        partner_mode=partner_mode,  # a service provider: sp_mchid / sub_mchid
        **extra,
    )
    sdk._core._gate_way = sandbox.url  # the base URL: the only change from production
    return sdk

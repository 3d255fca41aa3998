"""Start-up checks: production refuses development settings and names the one at fault."""
import pytest

from server import create_app
from server.config import ConfigError


@pytest.fixture
def production(dev_keys, tmp_path):
    """Settings a real deployment could start with (keys copied out of the dev-keys folder)."""
    key = tmp_path / "apiclient_key.pem"
    key.write_bytes(open(dev_keys["WECHATPAY_PRIVATE_KEY"], "rb").read())
    public = tmp_path / "pub_key.pem"
    public.write_bytes(open(dev_keys["WECHATPAY_PUBLIC_KEY"], "rb").read())
    return {**dev_keys, "APP_ENV": "production", "SECRET_KEY": "s" * 40,
            "WECHATPAY_PRIVATE_KEY": str(key), "WECHATPAY_PUBLIC_KEY": str(public),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "WECHAT_API_BASE": "https://api.weixin.qq.com",
            "WECHATPAY_API_BASE": "https://api.mch.weixin.qq.com",
            "WECHATPAY_NOTIFY_URL": "https://pay.example.com/api/pay/notify"}


def test_production_settings_start(production):
    assert create_app(production).config["APP_ENV"] == "production"


@pytest.mark.parametrize("name, value", [
    ("SECRET_KEY", "dev-secret-key-change-me"),
    ("SECRET_KEY", "tooshort1"),
    ("WECHATPAY_API_BASE", "http://127.0.0.1:8001"),
    ("WECHAT_API_BASE", "http://localhost:8001"),
    ("WECHATPAY_API_BASE_BACKUP", "http://127.0.0.1:8002"),
    ("WECHATPAY_NOTIFY_URL", "http://pay.example.com/api/pay/notify"),
    ("WECHATPAY_NOTIFY_URL", "https://pay.example.com/api/pay/notify?x=1"),
    ("WECHATPAY_PRIVATE_KEY", ""),
    ("WECHATPAY_PRIVATE_KEY", "/nonexistent/apiclient_key.pem"),
    ("WECHATPAY_APIV3_KEY", ""),
    ("WECHATPAY_MCHID", ""),
    ("WECHAT_SECRET", ""),
])
def test_production_refuses_and_names_the_setting(production, name, value):
    with pytest.raises(ConfigError) as error:
        create_app({**production, name: value})
    assert name in str(error.value)
    if value:
        assert value not in str(error.value) or value.startswith("http")


def test_production_refuses_the_generated_development_keys(production, dev_keys):
    with pytest.raises(ConfigError, match="WECHATPAY_PRIVATE_KEY"):
        create_app({**production, "WECHATPAY_PRIVATE_KEY": dev_keys["WECHATPAY_PRIVATE_KEY"]})


def test_unparseable_key_file_is_named(production, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(ConfigError, match="WECHATPAY_PRIVATE_KEY"):
        create_app({**production, "WECHATPAY_PRIVATE_KEY": str(bad)})


@pytest.mark.parametrize("name, value", [("WECHATPAY_API_VERSION", "v4"),
                                         ("WECHATPAY_V2_SIGN_TYPE", "SHA1"),
                                         ("ORDER_TIMEOUT_MINUTES", "0"),
                                         ("ORDER_TIMEOUT_MINUTES", "\u00b2"),
                                         ("ORDER_TIMEOUT_MINUTES", "9" * 5000),
                                         ("TRUSTED_PROXY_COUNT", "-1"),
                                         ("WECHAT_HTTP_TIMEOUT_SECONDS", "0"),
                                         ("WECHATPAY_APIV3_KEY", "k" * 31),
                                         ("WECHATPAY_APIV3_KEY", "k" * 16),
                                         ("WECHATPAY_API_KEY", "k" * 33),
                                         ("WECHATPAY_NOTIFY_URL", "http://127.0.0.1/n?x=1")])
def test_invalid_values_are_refused_in_any_environment(dev_keys, name, value, tmp_path):
    with pytest.raises(ConfigError, match=name):
        create_app({**dev_keys, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db", name: value})


def test_a_passphrase_protected_key_is_named(production, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from sandbox.devkeys import _new_key
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(_new_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    with pytest.raises(ConfigError, match="WECHATPAY_PRIVATE_KEY"):
        create_app({**production, "WECHATPAY_PRIVATE_KEY": str(encrypted)})


@pytest.mark.parametrize("name, value", [
    ("WECHAT_PUSH_TOKEN", "ab"),
    ("WECHAT_PUSH_TOKEN", "has space"),
    ("WECHAT_PUSH_AES_KEY", "too-short"),
    ("WECHAT_PUSH_AES_KEY", "!" * 43),
    ("SHIPPING_AUTO_VIRTUAL", "yes"),
])
def test_push_and_shipping_settings_are_checked_in_every_environment(dev_keys, name, value):
    with pytest.raises(ConfigError) as error:
        create_app({**dev_keys, "DATABASE_URL": "sqlite://", name: value})
    assert name in str(error.value)
    assert value not in str(error.value)


def test_production_needs_the_secure_push_mode(production):
    with pytest.raises(ConfigError, match="WECHAT_PUSH_AES_KEY"):
        create_app({**production, "WECHAT_PUSH_AES_KEY": ""})
    assert create_app({**production, "WECHAT_PUSH_TOKEN": "", "WECHAT_PUSH_AES_KEY": ""})

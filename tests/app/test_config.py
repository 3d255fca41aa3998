"""Start-up checks: production refuses development settings and names the one at fault."""

import pytest
from cryptography.hazmat.primitives import serialization

from sandbox.devkeys import _new_key
from server import create_app
from server.config import ConfigError


def test_production_settings_start(production):
    assert create_app(production).config["APP_ENV"] == "production"


@pytest.mark.parametrize(
    "name, value",
    [
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
        ("TRUSTED_HOSTS", ""),
        ("TRUSTED_HOSTS", "api.example.com"),  # not the notify URL's host
    ],
)
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


@pytest.mark.parametrize(
    "name, value",
    [
        ("WECHATPAY_API_VERSION", "v4"),
        ("WECHATPAY_V2_SIGN_TYPE", "SHA1"),
        ("ORDER_TIMEOUT_MINUTES", "0"),
        ("ORDER_TIMEOUT_MINUTES", "\u00b2"),
        ("ORDER_TIMEOUT_MINUTES", "9" * 5000),
        ("TRUSTED_PROXY_COUNT", "-1"),
        ("WECHAT_HTTP_TIMEOUT_SECONDS", "0"),
        ("WECHATPAY_APIV3_KEY", "k" * 31),
        ("WECHATPAY_APIV3_KEY", "k" * 16),
        ("WECHATPAY_API_KEY", "k" * 33),
        ("WECHATPAY_NOTIFY_URL", "http://127.0.0.1/n?x=1"),
    ],
)
def test_invalid_values_are_refused_in_any_environment(dev_keys, name, value, tmp_path):
    with pytest.raises(ConfigError, match=name):
        create_app({**dev_keys, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db", name: value})


def test_a_passphrase_protected_key_is_named(production, tmp_path):
    from cryptography.hazmat.primitives import serialization

    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        _new_key().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(ConfigError, match="WECHATPAY_PRIVATE_KEY"):
        create_app({**production, "WECHATPAY_PRIVATE_KEY": str(encrypted)})


@pytest.mark.parametrize(
    "name, value",
    [
        ("WECHAT_PUSH_TOKEN", "ab"),
        ("WECHAT_PUSH_TOKEN", "has space"),
        ("WECHAT_PUSH_AES_KEY", "too-short"),
        ("WECHAT_PUSH_AES_KEY", "!" * 43),
        ("SHIPPING_AUTO_VIRTUAL", "yes"),
    ],
)
def test_push_and_shipping_settings_are_checked_in_every_environment(dev_keys, name, value):
    with pytest.raises(ConfigError) as error:
        create_app({**dev_keys, "DATABASE_URL": "sqlite://", name: value})
    assert name in str(error.value)
    assert value not in str(error.value)


def test_production_needs_the_secure_push_mode(production):
    with pytest.raises(ConfigError, match="WECHAT_PUSH_AES_KEY"):
        create_app({**production, "WECHAT_PUSH_AES_KEY": ""})
    assert create_app({**production, "WECHAT_PUSH_TOKEN": "", "WECHAT_PUSH_AES_KEY": ""})


@pytest.mark.parametrize(
    "value",
    ["Production", "PRODUCTION", "prod", "production ", " production", "staging", "", "dev"],
)
def test_app_env_accepts_only_known_values(production, value):
    with pytest.raises(ConfigError, match="APP_ENV"):
        create_app({**production, "APP_ENV": value})


@pytest.mark.parametrize(
    "host",
    [
        "LOCALHOST",
        "localhost.",
        "app.localhost",
        "127.1",
        "127.0.0.2",
        "127.255.255.254",
        "2130706433",
        "0x7f000001",
        "0x7f.1",
        "0177.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[0:0:0:0:0:0:0:1]",
        "0.0.0.0",
        "0",
        "[::]",
        "10.0.0.8",
        "192.168.1.10",
        "172.16.0.1",
        "169.254.169.254",
        "[fe80::1]",
        "[fd00::1]",
        "sandbox",
        "sandbox:8001",
    ],
)
@pytest.mark.parametrize("name", ["WECHAT_API_BASE", "WECHATPAY_API_BASE", "WECHATPAY_NOTIFY_URL"])
def test_production_refuses_the_simulator_however_its_address_is_written(production, name, host):
    with pytest.raises(ConfigError, match=name):
        create_app({**production, name: f"https://{host}/api/pay/notify"})


def test_production_accepts_public_names_and_addresses(production):
    app = create_app(
        {
            **production,
            "WECHATPAY_NOTIFY_URL": "https://8.8.8.8/api/pay/notify",
            "TRUSTED_HOSTS": "pay.example.com, 8.8.8.8",
            "WECHATPAY_API_BASE": "https://api2.mch.weixin.qq.com",
        }
    )
    assert app.config["WECHATPAY_API_BASE"] == "https://api2.mch.weixin.qq.com"


@pytest.mark.parametrize(
    "name", ["WECHATPAY_PRIVATE_KEY", "WECHATPAY_PUBLIC_KEY", "WECHATPAY_CERT"]
)
def test_production_refuses_development_keys_copied_anywhere(production, dev_keys, tmp_path, name):
    source = {"WECHATPAY_CERT": dev_keys["WECHATPAY_CERT"]}.get(name, dev_keys[name])
    copy = tmp_path / "elsewhere" / "apiclient.pem"
    copy.parent.mkdir()
    copy.write_bytes(open(source, "rb").read())
    with pytest.raises(ConfigError, match=name):
        create_app({**production, name: str(copy)})


def test_production_refuses_a_development_key_re_exported_in_another_format(
    production, dev_keys, tmp_path
):
    """The mark is in the key itself: a PKCS#1 re-export (or any other copy) still carries it."""
    key = serialization.load_pem_private_key(
        open(dev_keys["WECHATPAY_PRIVATE_KEY"], "rb").read(), None
    )
    copy = tmp_path / "rsa_key.pem"
    copy.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="WECHATPAY_PRIVATE_KEY"):
        create_app({**production, "WECHATPAY_PRIVATE_KEY": str(copy)})


@pytest.mark.parametrize(
    "name, value",
    [
        ("WECHATPAY_NOTIFY_URL", "https://pay.example.com/api/pay/notify#frag"),
        ("WECHATPAY_NOTIFY_URL", "https://pay.example.com/" + "n" * 250),
        ("WECHATPAY_NOTIFY_URL", "ftp://pay.example.com/notify"),
        ("WECHATPAY_NOTIFY_URL", "pay.example.com/notify"),
        ("WECHATPAY_NOTIFY_URL", "https:///notify"),
        ("WECHATPAY_NOTIFY_URL", "https://pay.example.com:99999/notify"),
        ("WECHATPAY_NOTIFY_URL", "https://[::1/notify"),
        ("WECHATPAY_API_BASE", "https://api.mch.weixin.qq.com#x"),
        ("WECHAT_API_BASE", "api.weixin.qq.com"),
    ],
)
def test_every_url_setting_is_checked_at_start_up_in_any_environment(
    dev_keys, tmp_path, name, value
):
    with pytest.raises(ConfigError, match=name):
        create_app({**dev_keys, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db", name: value})


POSTGRES = "postgresql://wxpay@db.internal:5432/wxpay"  # never connected to: only checked


def test_production_refuses_pools_larger_than_the_declared_connection_budget(production):
    # 4 workers x (10 + 10) + 10 for the jobs = 90 of PostgreSQL's default 97.
    fits = {**production, "DATABASE_URL": POSTGRES, "GUNICORN_WORKERS": "4"}
    assert create_app(fits).config["DATABASE_POOL_SIZE"] == "10"
    too_many = {**fits, "GUNICORN_WORKERS": "5"}  # 110
    with pytest.raises(ConfigError, match="DATABASE_MAX_CONNECTIONS is 97.*may open 110"):
        create_app(too_many)
    with pytest.raises(ConfigError, match="may open 130"):
        create_app({**fits, "DATABASE_MAX_OVERFLOW": "20"})
    # A database with a larger max_connections, declared: the same pools start.
    assert create_app({**too_many, "DATABASE_MAX_CONNECTIONS": "200"})
    # What the app's engine is built with.
    options = create_app(fits).config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert (options["pool_size"], options["max_overflow"]) == (10, 10)


def test_the_connection_budget_is_checked_only_for_postgresql_in_production(production, dev_keys):
    sqlite = {**production, "GUNICORN_WORKERS": "50"}  # SQLite: no server-side limit
    assert create_app(sqlite)
    development = {**dev_keys, "DATABASE_URL": POSTGRES, "GUNICORN_WORKERS": "50"}
    assert create_app(development).config["APP_ENV"] == "development"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_POOL_SIZE", "0"),
        ("DATABASE_POOL_SIZE", "ten"),
        ("DATABASE_MAX_OVERFLOW", "-1"),
        ("DATABASE_MAX_CONNECTIONS", ""),
        ("GUNICORN_WORKERS", "0"),
        ("GUNICORN_WORKERS", "two"),
    ],
)
def test_connection_settings_must_be_numbers(dev_keys, name, value):
    with pytest.raises(ConfigError, match=name):
        create_app({**dev_keys, name: value})

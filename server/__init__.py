"""The WeChat Pay mini-program backend: ``create_app()`` builds it.

The factory is a list of small ``register_*`` steps; ``config`` (a dict of the environment
variable names in ``config.py``) overrides the environment, which is how tests build apps.
"""

import logging

from flask import Flask

from . import config as settings
from .extensions import db, migrate

# The largest body any endpoint accepts; notifications have their own, smaller bound.
MAX_BODY_BYTES = 64 * 1024


def create_app(config=None):
    try:
        return _create_app(config)
    except Exception as error:
        # `flask --app server doctor` reports settings that stop the app (one line and the fix)
        # instead of a traceback; anything else still fails here.
        from .cli.doctor import app_for_broken_settings

        if config is not None or (app := app_for_broken_settings(error)) is None:
            raise
        return app


def _create_app(config):
    values = settings.load(config)
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(values)
    app.config.update(
        SECRET_KEY=values["SECRET_KEY"],
        SQLALCHEMY_DATABASE_URI=_database_url(values["DATABASE_URL"]),
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(values),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_SORT_KEYS=False,
    )
    register_logging(app)
    register_extensions(app)
    register_proxy_fix(app)
    register_wechat_clients(app)
    register_blueprints(app)
    register_console(app)
    register_web(app)
    register_rate_limits(app)
    register_commands(app)
    register_error_handlers(app)
    return app


def _database_url(url):
    # psycopg 3 is the driver we ship; accept the plain postgresql:// spelling for it.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _engine_options(values):
    url = values["DATABASE_URL"]
    if url.startswith("sqlite"):
        # Wait for a writer instead of failing at once when requests run concurrently.
        return {"connect_args": {"timeout": 30}}
    # No pool_pre_ping: it costs a round trip on every checkout. A connection the server dropped
    # fails one request, and SQLAlchemy then discards the whole pool; recycling connections
    # before the usual idle timeouts (firewalls, pgbouncer) keeps that rare.
    # A thread holds a connection only while it talks to the database (checkout releases it
    # before calling WeChat), so the pool is much smaller than gunicorn's threads; a thread
    # finding it empty waits for one. Sized by settings, within DATABASE_MAX_CONNECTIONS
    # (config.py, docs/performance.md).
    return {
        "pool_recycle": 1800,
        "pool_size": int(values["DATABASE_POOL_SIZE"]),
        "max_overflow": int(values["DATABASE_MAX_OVERFLOW"]),
    }


def register_logging(app):
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    # urllib3 logs request URLs at DEBUG and on retries; jscode2session's carries the secret.
    logging.getLogger("urllib3").setLevel(logging.ERROR)


def register_extensions(app):
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir())
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            from sqlalchemy import event

            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(connection, _record):
                cursor = connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.close()


def _migrations_dir():
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def register_proxy_fix(app):
    """Trust X-Forwarded-* only from the configured number of proxies (nginx: 1), checked;
    only the configured host names."""
    from .proxy import register

    register(app)


def register_wechat_clients(app):
    """WeChat's clients (login, the mini program's APIs) and WeChat Pay's gateway."""
    from . import cashier, channels, clients

    clients.init_app(app)
    channels.init_app(app)
    cashier.init_app(app)


def register_blueprints(app):
    from . import media
    from .api import app_orders, auth, contract, converters, orders, products, refunds, shipping

    converters.register(app)
    from .callbacks import notify, push

    for module in (
        auth,
        products,
        orders,
        app_orders,
        shipping,
        refunds,
        notify,
        push,
        contract,
        media,
    ):
        app.register_blueprint(module.bp)


def register_console(app):
    from . import console

    console.init_app(app)


def register_web(app):
    """The web shop (Native QR code, H5, the official account's JSAPI) under /shop/."""
    from . import web

    web.init_app(app)


def register_rate_limits(app):
    """The app's own rate limiter, wrapping the limited views of the blueprints above."""
    from . import ratelimits

    ratelimits.init_app(app)


def register_error_handlers(app):
    """JSON errors for the API and WeChat's callbacks; the console has its own pages."""
    from .api import errors

    errors.register(app)


def register_commands(app):
    from . import cli

    cli.register(app)

"""The console's fixtures: an app with no servers, its staff, and their logged-in clients."""

import pytest

from server import create_app
from server.domain.catalogue import seed_catalogue
from server.extensions import db
from tests.support.console import ADMIN, OPERATOR, ConsoleClient, make_staff


@pytest.fixture
def make_app(dev_keys, database_url):
    """``make_app(**settings)``: an app with the demo catalogue, an admin and an operator."""
    apps = []

    def make(**settings):
        app = create_app({**dev_keys, "DATABASE_URL": database_url, **settings})
        with app.app_context():
            db.create_all()
            seed_catalogue()
        make_staff(app, ADMIN, "admin")
        make_staff(app, OPERATOR, "operator")
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def admin(app):
    client = ConsoleClient(app)
    assert client.login(ADMIN).status_code == 302
    return client


@pytest.fixture
def operator(app):
    client = ConsoleClient(app)
    assert client.login(OPERATOR).status_code == 302
    return client

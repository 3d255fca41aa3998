"""Per-user limits on the orders API, in memory and shared through Redis (issue 11, class 5);
apps in one process count apart (each has a Limiter of its own)."""

import socket
import time

import pytest
import requests

from tests.support import require
from tests.support.console import ADMIN, ConsoleClient

# Counts live in memory or Redis, never in the database.
pytestmark = pytest.mark.database_agnostic

REDIS = ("127.0.0.1", 6379)


def redis_runs():
    try:
        with socket.create_connection(REDIS, timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def closed_port():
    """A port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_rate_limited(response):
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert int(response.headers["Retry-After"]) > 0


def test_order_writes_are_limited_per_user(make_stack):
    stack = make_stack(RATE_LIMIT_ORDER_WRITES="3 per minute")
    auth = stack.login()
    created = [stack.create_order(auth) for _ in range(3)]
    assert [r.status_code for r in created] == [201] * 3
    assert_rate_limited(stack.create_order(auth))
    # /pay draws on the same budget: it may place the order with WeChat Pay again.
    order_id = created[0].json()["order"]["id"]
    assert_rate_limited(requests.post(f"{stack.backend}/api/orders/{order_id}/pay", headers=auth))
    # Another user has a budget of their own.
    assert stack.create_order(stack.login("o-someone-else")).status_code == 201
    assert stack.query("SELECT count(*) FROM orders")[0][0] == 4


def test_order_reads_are_limited_per_user(make_stack):
    stack = make_stack(RATE_LIMIT_ORDER_READS="4 per minute")
    auth = stack.login()
    order_id = stack.create_order(auth).json()["order"]["id"]
    answers = [
        requests.get(f"{stack.backend}/api/orders", headers=auth).status_code for _ in range(2)
    ]
    answers += [stack.order(auth, order_id).status_code for _ in range(2)]
    assert answers == [200] * 4
    assert_rate_limited(stack.order(auth, order_id))
    assert_rate_limited(requests.get(f"{stack.backend}/api/orders", headers=auth))
    assert requests.get(f"{stack.backend}/api/products").status_code == 200  # not limited


def test_with_redis_every_instance_counts_together(make_stack):
    require(redis_runs(), "Redis on 127.0.0.1:6379")
    settings = {"REDIS_URL": "redis://127.0.0.1:6379/0", "RATE_LIMIT_ORDER_WRITES": "2 per minute"}
    first, second = make_stack(**settings), make_stack(**settings)  # one database, one Redis
    assert first.create_order(first.login("o-shared")).status_code == 201
    assert second.create_order(second.login("o-shared")).status_code == 201
    assert_rate_limited(first.create_order(first.login("o-shared")))
    assert_rate_limited(second.create_order(second.login("o-shared")))


def test_an_unreachable_redis_does_not_fail_requests(make_stack):
    stack = make_stack(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    assert stack.create_order(stack.login()).status_code == 201


@pytest.mark.parametrize(
    "name, value",
    [
        ("RATE_LIMIT_ORDER_WRITES", "lots"),
        ("RATE_LIMIT_ORDER_READS", "5 per fortnight"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
    ],
)
def test_limit_settings_are_checked_at_start_up(dev_keys, tmp_path, name, value):
    from server import create_app
    from server.config import ConfigError

    with pytest.raises(ConfigError, match=name):
        create_app({**dev_keys, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db", name: value})


def console_app(dev_keys, path, **settings):
    """An app whose limit is easy to reach without WeChat: the console's logins, 3 a minute."""
    from server import create_app
    from server.extensions import db

    app = create_app(
        {
            **dev_keys,
            "DATABASE_URL": f"sqlite:///{path}",
            "CONSOLE_LOGIN_RATE_LIMIT": "3 per minute",
            **settings,
        }
    )
    with app.app_context():
        db.create_all()
    return app


def failed_logins(client, times):
    return [client.login(ADMIN, "wrong").status_code for _ in range(times)]


def test_a_new_app_does_not_reset_another_apps_counts(dev_keys, tmp_path):
    client = ConsoleClient(console_app(dev_keys, tmp_path / "first.db"))
    statuses = failed_logins(client, 2)
    console_app(dev_keys, tmp_path / "second.db")  # another app in the same process
    assert statuses + failed_logins(client, 2) == [401, 401, 401, 429]


def test_another_apps_unreachable_redis_leaves_this_apps_counts_alone(dev_keys, tmp_path):
    broken = ConsoleClient(
        console_app(
            dev_keys, tmp_path / "broken.db", REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"
        )
    )
    assert failed_logins(broken, 1) == [401]  # counted in memory meanwhile
    client = ConsoleClient(console_app(dev_keys, tmp_path / "fine.db"))
    statuses = failed_logins(client, 2)
    # flask-limiter looks at a storage it saw down again after 2 s (then 4, 8...): had this app
    # inherited the other's "down", its counts would move from memory to its storage here.
    time.sleep(2.1)
    assert statuses + failed_logins(client, 2) == [401, 401, 401, 429]

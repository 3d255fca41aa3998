"""Per-user rate limits on the orders API, so one user cannot spend the merchant's WeChat Pay
API quota (every order placed, and reads of unpaid orders, call WeChat Pay); the same limits
per client address on the web shop's (its guests do not sign in); per-address limits on the
staff console's logins.

flask-limiter (well kept, Redis and memory storage, moving windows) counts; the limits are
settings. A user over a limit gets 429 RATE_LIMITED in the API's error shape, with Retry-After.
Counts are kept in Redis when REDIS_URL is set, so every worker and instance counts together, in
memory otherwise; if Redis cannot be reached the limiter falls back to memory rather than
failing requests.

Every app has a Limiter of its own. A Limiter keeps its storage, its in-memory fallback and
whether its storage is down, and ``init_app`` replaces the storage but keeps the rest: one
Limiter shared by the apps of one process (the test suite builds hundreds) let a new app reset
another's counts, and one app's unreachable Redis sent a later app's counts to memory until a
backoff timer moved them back, losing them. The decorators below are declared once, at import
time; each app wraps the views with its own Limiter when it is built.
"""

import hashlib
import logging
from functools import wraps

from flask import current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse

log = logging.getLogger(__name__)


class _AppLimit:
    """A view decorator whose limit is counted by the Limiter of the app serving the request.

    ``make(limiter)`` returns the flask-limiter decorator; ``init_app`` makes it once per app
    and wraps every view decorated here with it.
    """

    def __init__(self, make):
        self.make = make
        self.views = []

    def __call__(self, view):
        self.views.append(view)

        @wraps(view)
        def limited(*args, **kwargs):
            return current_app.extensions["rate_limited_views"][view](*args, **kwargs)

        return limited


# WeChat's callbacks are never limited (a refused notification is a payment WeChat has to
# send again), so the limiter does not even look at them: its bookkeeping costs a tenth of a
# notification's CPU.
UNLIMITED_BLUEPRINTS = frozenset({"notify", "push"})


def _unlimited():
    return request.blueprint in UNLIMITED_BLUEPRINTS


def _user_key():
    # Applied under login_required, so g.user is the authenticated user.
    return f"{current_app.config['RATE_LIMIT_NAMESPACE']}:user:{g.user.id}"


def _shared(setting, scope, key_func):
    """One budget (the limit in ``setting``) shared by every route decorated with it."""
    return _AppLimit(
        lambda limiter: limiter.shared_limit(
            lambda: current_app.config[setting], scope=scope, key_func=key_func
        )
    )


# Shared by every route that uses them: one budget per user for all order writes, one for reads.
order_writes = _shared("RATE_LIMIT_ORDER_WRITES", "order-writes", _user_key)
order_reads = _shared("RATE_LIMIT_ORDER_READS", "order-reads", _user_key)


# The web shop's guests do not sign in: the same budgets, per client address (the real address:
# ProxyFix runs first behind nginx). Checkout, paying (h5, jsapi) and the order page (it places
# a Native order with WeChat again) are writes; the order's status (polled every 2 s) a read.
def _address_key():
    return f"{current_app.config['RATE_LIMIT_NAMESPACE']}:address:{get_remote_address()}"


shop_writes = _shared("RATE_LIMIT_ORDER_WRITES", "shop-writes", _address_key)
shop_reads = _shared("RATE_LIMIT_ORDER_READS", "shop-reads", _address_key)

# The staff console's failed logins, per client address (the limiter's default key; the real
# address: ProxyFix runs first behind nginx).
console_logins = _AppLimit(
    lambda limiter: limiter.limit(
        lambda: current_app.config["CONSOLE_LOGIN_RATE_LIMIT"], methods=["POST"]
    )
)

# Second-factor codes typed in the console (logging in, confirming enrolment), per address:
# one budget for all of them.
console_codes = _AppLimit(
    lambda limiter: limiter.shared_limit(
        lambda: current_app.config["CONSOLE_CODE_RATE_LIMIT"],
        scope="console-codes",
        methods=["POST"],
    )
)


def failed_tokens(count=False):
    """A POS terminal's wrong or revoked tokens (server/console/pos_tokens.py), per client
    address: the logins' limit (CONSOLE_LOGIN_RATE_LIMIT) in a count of their own, of failures
    only (a terminal polls every second with a good token). True while the address is over
    it; ``count`` adds one failure first. A storage that fails lets the request through."""
    limiter = current_app.extensions["rate_limiter"].limiter
    limit = parse(current_app.config["CONSOLE_LOGIN_RATE_LIMIT"])
    key = (current_app.config["RATE_LIMIT_NAMESPACE"], "pos-token", get_remote_address())
    try:
        if count:
            return not limiter.hit(limit, *key)
        return not limiter.test(limit, *key)
    except Exception:  # as RATELIMIT_SWALLOW_ERRORS does for the views
        log.warning("rate limit storage failed", exc_info=True)
        return False


def init_app(app):
    """The app's own Limiter; after every blueprint is registered (their views are declared)."""
    app.config.update(
        RATELIMIT_STORAGE_URI=app.config["REDIS_URL"] or "memory://",
        # Deployments (and test runs) sharing one Redis must not share counters: the database
        # names the deployment, and user ids are per database.
        RATE_LIMIT_NAMESPACE="wxpay:"
        + hashlib.sha256(app.config["DATABASE_URL"].encode()).hexdigest()[:16],
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )
    limiter = Limiter(key_func=get_remote_address)
    limiter.request_filter(_unlimited)
    limiter.init_app(app)
    app.extensions["rate_limiter"] = limiter
    views = {}
    for limit in (
        order_writes,
        order_reads,
        shop_writes,
        shop_reads,
        console_logins,
        console_codes,
    ):
        decorate = limit.make(limiter)
        views.update({view: decorate(view) for view in limit.views})
    app.extensions["rate_limited_views"] = views

"""Per-user rate limits on the orders API, so one user cannot spend the merchant's WeChat Pay
API quota (every order placed, and reads of unpaid orders, call WeChat Pay).

flask-limiter (well kept, Redis and memory storage, moving windows) counts; the limits are
settings. A user over a limit gets 429 RATE_LIMITED in the API's error shape, with Retry-After.
If Redis cannot be reached the limiter falls back to memory rather than failing requests.

flask-limiter's Limiter keeps one storage, set by the latest ``init_app``: one app per process,
as gunicorn runs it (tests build one stack's apps after another's are gone).
"""
import hashlib

from flask import current_app, g, request

from .extensions import limiter


def init_app(app):
    app.config.update(
        RATELIMIT_STORAGE_URI=app.config["REDIS_URL"] or "memory://",
        # Deployments (and test runs) sharing one Redis must not share counters: the database
        # names the deployment, and user ids are per database. (Not RATELIMIT_KEY_PREFIX: the
        # Limiter keeps the first app's prefix for every later app.)
        RATE_LIMIT_NAMESPACE="wxpay:" + hashlib.sha256(
            app.config["DATABASE_URL"].encode()).hexdigest()[:16],
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )
    limiter.init_app(app)


# WeChat's callbacks are never limited (a refused notification is a payment WeChat has to
# send again), so the limiter does not even look at them: its bookkeeping costs a tenth of a
# notification's CPU.
UNLIMITED_BLUEPRINTS = frozenset({"notify", "refund_notify", "push"})


@limiter.request_filter
def _unlimited():
    return request.blueprint in UNLIMITED_BLUEPRINTS


def _user_key():
    # Applied under login_required, so g.user is the authenticated user.
    return f"{current_app.config['RATE_LIMIT_NAMESPACE']}:user:{g.user.id}"


# Shared by every route that uses them: one budget per user for all order writes, one for reads.
order_writes = limiter.shared_limit(lambda: current_app.config["RATE_LIMIT_ORDER_WRITES"],
                                    scope="order-writes", key_func=_user_key)
order_reads = limiter.shared_limit(lambda: current_app.config["RATE_LIMIT_ORDER_READS"],
                                   scope="order-reads", key_func=_user_key)

"""HTTP to WeChat Pay: one pooled session per process, read from the environment once,
one shared TLS context, failover to the backup domain, and a time budget for calls a user
waits on. Both API versions send through here.
"""

import copy
import functools
import logging
import os
import ssl
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.exceptions import NewConnectionError
from urllib3.util.retry import Retry

# The name these log lines had before core/ existed, kept so that log filters still match.
log = logging.getLogger("server.wechatpay.gateway")


# Connections kept open to one WeChat host: at least as many as the threads that may wait on it
# at once (gunicorn's GUNICORN_THREADS), or every call beyond it opens a new connection (a TLS
# handshake, several ms of CPU) and throws it away. They are opened only as calls need them.
POOL_MAXSIZE = 256


def new_http_session(retries=True):
    """One pooled HTTP session per process for every call to WeChat.

    Retries only what cannot have reached WeChat (failed connects) and idempotent GETs;
    a POST that may have arrived is never resent blindly: the caller queries instead.
    ``retries=False``: nothing is retried (calls a user is waiting on).
    """
    retry = (
        Retry(
            total=2,
            connect=2,
            read=1,
            status=0,
            allowed_methods={"GET"},
            backoff_factor=0.2,
            raise_on_status=False,
        )
        if retries
        else 0
    )
    session = EnvironmentOnceSession()
    session.mount("https://", SharedTLSAdapter(max_retries=retry, pool_maxsize=POOL_MAXSIZE))
    session.mount("http://", HTTPAdapter(max_retries=retry, pool_maxsize=POOL_MAXSIZE))
    return session


class EnvironmentOnceSession(requests.Session):
    """A requests session that reads its settings from the environment once, not per call.

    requests looks up the proxy variables, NO_PROXY and ~/.netrc on every request (1-2 ms of
    CPU, a fifth of placing an order). Here the proxies (HTTPS_PROXY, NO_PROXY...) are read
    once per host, the CA bundle (``ca_bundle()``) when the session is made, and ~/.netrc
    never: the Authorization header is WeChat Pay's signature.
    """

    def __init__(self):
        super().__init__()
        self.trust_env = False
        self.verify = ca_bundle()

    def request(self, method, url, **kwargs):
        scheme, host = urlsplit(url)[:2]
        kwargs.setdefault("proxies", _environment_proxies(scheme, host))
        return super().request(method, url, **kwargs)


@functools.cache
def _environment_proxies(scheme, host):
    return requests.utils.get_environ_proxies(f"{scheme}://{host}/")


def never_sent(exc):
    """True when a request provably never reached the server: no connection was made
    (connection refused, DNS failure, connect timeout). A read timeout or a dropped
    connection may have delivered it."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def send_with_failover(session, method, bases, path, *, repeatable, **kwargs):
    """``session.request`` to the first base, then to the next ones (WeChat's backup domain
    api2.mch.weixin.qq.com) when the first cannot be reached.

    ``repeatable``: the call is safe to make twice (queries, close, downloads), so any transport
    failure moves on. Otherwise (placing an order) only a request that never left moves on,
    since one that may have arrived must be queried, not resent.
    """
    for index, base in enumerate(bases):
        try:
            return session.request(method, base + path, **kwargs)
        except requests.RequestException as exc:
            if index + 1 == len(bases) or not (repeatable or never_sent(exc)):
                raise
            log.warning(
                "WeChat Pay %s unreachable (%s); trying %s",
                base,
                type(exc).__name__,
                bases[index + 1],
            )


def with_budget(gateway, seconds):
    """A copy of ``gateway`` for calls a user waits on: it gives up after ``seconds`` without
    an answer and retries nothing. Keys, certificates and settings stay shared."""
    quick = copy.copy(gateway)
    quick.session = new_http_session(retries=False)
    quick.timeout = (min(1.0, seconds), seconds)  # (connect, read)
    quick.retry_queries = False  # v2 retries a query itself; v3 leaves it to the session
    return quick


def ca_bundle():
    """The CA bundle requests would verify with (its environment variables, else certifi)."""
    return (
        os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or DEFAULT_CA_BUNDLE_PATH
    )


@functools.cache
def tls_context(bundle):
    """One verifying SSL context per CA bundle and process."""
    return ssl.create_default_context(cafile=bundle)


class SharedTLSAdapter(HTTPAdapter):
    """Verifies with one SSL context per process. Left to themselves, requests and urllib3
    build a context and parse the whole CA bundle for every new connection (about 35 ms of
    CPU), so each reconnect to WeChat would pay for it again."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = tls_context(ca_bundle())
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn, url, verify, cert):
        super().cert_verify(conn, url, verify, cert)
        if verify is True or verify == ca_bundle():
            # Already loaded in the shared context; naming it again would reload it.
            conn.ca_certs = conn.ca_cert_dir = None

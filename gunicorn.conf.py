"""gunicorn settings for the API: `gunicorn --config gunicorn.conf.py 'server:create_app()'`.

gunicorn sits behind nginx (nginx/wxpay.conf.template), which buffers slow clients. The worker
is gthread, not sync: a request that waits on WeChat (placing an order, or reading an unpaid one,
which may query it) holds a thread, not a whole process, so a slow WeChat cannot leave no
worker free for its own payment notifications. gevent would need monkey-patching of psycopg
and requests for no gain here: the app does little concurrent I/O per request. Threads cost
little CPU against sync (bench/run.py measures both: --worker-class sync). Everything that
differs between machines comes from the environment (the systemd unit sets it;
docs/deployment.md):

GUNICORN_BIND     where to listen: "unix:/run/wxpay/gunicorn.sock" on a server; default
                  127.0.0.1:8000. Never a public address: only nginx may reach gunicorn.
GUNICORN_WORKERS  worker processes; default one per CPU core this process may run on, at least 2.
GUNICORN_THREADS  threads per worker; default 64: each order waits 100-300 ms on WeChat holding a
                  thread (not a database connection), so threads, not CPU, would cap orders
                  per second (2 x 8 threads / 0.3 s = 53/s) without them. See
                  docs/performance.md (orders while WeChat is slow).
GUNICORN_WORKER_CLASS  gthread by default; "sync" to compare (bench/run.py --worker-class).

Restarts without dropping requests:
- `kill -HUP <master>` (systemctl reload wxpay): new workers load the new code and settings,
  old workers finish their requests within graceful_timeout, then exit.
- `kill -USR2 <master>` then `kill -TERM <old master>`: replace gunicorn itself (after upgrading
  gunicorn or Python). Under systemd, prefer `systemctl restart` for that.

preload_app stays off: with it, HUP would not reload the code (it was imported once, in the
master), and database connections opened while importing would be shared by every forked
worker. Turning it on saves some memory, at the price of full restarts for every deploy.
"""

import os

bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# One process per core, not gunicorn's usual 2 * cores + 1 (advice for sync workers): threads
# already wait on WeChat and the database, and more processes than cores only take turns on
# them, each with cold CPU caches. Measured with bench/run.py's servers on one core: five
# workers served orders at about half the rate of one, notifications at three quarters of it,
# and the bare baselines lost as much. At least two, so a
# worker being replaced (a reload, a kill) leaves another serving. The cores are the ones this
# process may run on (taskset, cpusets), not all the machine's.
usable_cores = (
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
)  # macOS has no affinity
workers = int(os.environ.get("GUNICORN_WORKERS") or max(2, usable_cores))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
# Enough that waiting on WeChat never caps throughput: 2 workers x 64 threads / 0.3 s = 426
# orders/s, beyond what the CPU serves. Idle threads cost about 0.1 MB each; a thread holds a
# database connection only while it talks to the database (DATABASE_POOL_SIZE in config.py).
threads = int(os.environ.get("GUNICORN_THREADS") or 64)
# A gthread worker accepts connections while its threads are busy and queues them; with this
# bound, a worker whose threads all wait on WeChat leaves new requests (a payment notification)
# to a worker with a free thread. The one extra slot keeps gunicorn's keep-alive usable.
worker_connections = threads + 1

# nginx sends requests over loopback or the unix socket (always trusted by gunicorn). This
# only governs gunicorn's own use of X-Forwarded-Proto; client addresses are resolved by the
# app itself (TRUSTED_PROXY_COUNT=1 -> werkzeug ProxyFix).
forwarded_allow_ips = "127.0.0.1,::1"
# Only the header nginx sets (and overwrites): gunicorn's default also reads
# X-Forwarded-Protocol and X-Forwarded-Ssl, and answers an HTML 400 when a client's copy of
# those contradicts X-Forwarded-Proto. nginx clears them too (nginx/wxpay.conf.template).
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# gunicorn >= 25 opens a control socket (for gunicornc) under $HOME/.gunicorn/, which fails
# under the unit's ProtectSystem=strict/ProtectHome and collides between two instances run by
# one user. We manage gunicorn with signals (systemctl reload/restart), so it stays closed.
control_socket_disable = True

# A worker stuck longer than this (a WeChat call that hangs) is killed and replaced; the
# backend's own HTTP timeouts to WeChat are shorter. nginx waits 35 s, a little longer.
timeout = 30
graceful_timeout = 30
keepalive = 5

# Applies only to the unix socket gunicorn creates (as user wxpay, group www-data in the
# systemd unit): nginx's group may connect, others may not.
umask = 0o007

# Logs go to stdout/stderr: journald (systemd) or the test's pipe collects them.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The client address as the app sees it is in X-Forwarded-For (set by nginx); no query strings
# in the log line (%(U)s is the path only), so nothing secret passed in a URL is kept.
access_log_format = '%({x-forwarded-for}i)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms "%(a)s"'

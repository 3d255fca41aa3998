"""All of one simulator's memory: login codes, orders, armed faults, notification deliveries.

One ``SandboxState`` per app (``app.extensions["sandbox"]``), every field guarded by
``state.lock``, so several simulators can run in one test process without sharing anything.

Orders are keyed by (mchid, out_trade_no) and refunds by (mchid, out_refund_no), as WeChat
keys them: a merchant's numbers are unique within that merchant only. WeChat's own endpoints
always know the merchant (the request names it or signs as it). The controls name an order or
a refund by its number alone (``find_order``, ``find_refund``); a number two merchants use is
then ambiguous (``Ambiguous``) unless the control also names the merchant.
"""

import itertools
import json
import secrets
import threading
import time
from dataclasses import replace

import requests

from server.wechatpay.crypto import SIGNTEST_PREFIX, certificate_serial

from .config import Signer
from .wire import compact_time, digits, rfc3339

# WeChat's notification retry schedule in seconds (docs/protocol.md B5), after the first attempt.
RETRY_SCHEDULE = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)
PREPAY_LIFETIME = 2 * 3600  # a prepay_id is valid for 2 h
DEFAULT_ORDER_LIFETIME = 7 * 24 * 3600
NOTIFY_ACTIONS = ("drop", "duplicate", "delay", "signtest", "tamper")
DELIVERY_LOG_SIZE = 10000  # keep memory bounded when a dev stack runs for days


class FaultError(ValueError):
    """A fault specification the simulator cannot arm."""


class Ambiguous(LookupError):
    """A control named an order or refund by a number several merchants use."""

    def __init__(self, kind, number):
        super().__init__(f"several merchants have the {kind} {number}: give its mchid")
        self.kind, self.number = kind, number


# Trade states of an order the user has paid (REFUND: paid, then refunded in part or whole).
PAID_STATES = ("SUCCESS", "REFUND")


class SandboxState:
    def __init__(self, config, settings):
        self.config = config  # parsed keys and identities (sandbox.config.SandboxConfig)
        self.settings = settings  # the raw env-style settings, e.g. WECHATPAY_API_KEY for v2
        self.lock = threading.RLock()
        # Per API version, a function(state, order) -> event id that sends the payment
        # notification of a paid order, and a function(state, refund) that sends the refund
        # notification of a settled refund (both wired in ``create_app``).
        self.payment_notifiers = {}
        self.refund_notifiers = {}
        # Platform certificates replaced by rotate_platform_certificate(); still listed by
        # /v3/certificates, as WeChat lists old and new during a rotation.
        self.retired_platform_certs = []
        self._fault_ids = itertools.count(1)
        self._clear()

    def _clear(self):
        self.codes = {}  # js_code -> {"openid", "expires_at", "used", "blocked"}
        self.session_keys = {}  # openid -> session_key
        self.login_calls = {}  # openid -> [unix time of each jscode2session]
        self.orders = {}  # (mchid, out_trade_no) -> order dict (any API version)
        self.order_keys = {}  # out_trade_no -> [(mchid, out_trade_no)...], for the controls
        self.prepays = {}  # prepay_id -> (mchid, out_trade_no)
        self.transactions = {}  # transaction_id -> (mchid, out_trade_no)
        self.refunds = {}  # (mchid, out_refund_no) -> refund dict (any API version)
        self.refund_keys = {}  # out_refund_no -> [(mchid, out_refund_no)...], for the controls
        self.bill_files = {}  # download token -> (bytes, expires_at)
        # (mchid, "YYYY-MM-DD") -> [disagreement...] (POST /sandbox/bills/<day>)
        self.bill_changes = {}
        self.faults = []
        self.deliveries = []  # one dict per notification attempt, oldest first
        self.weixin = {}  # access tokens and shipping info (sandbox.weixin)
        # The counter (sandbox.pay.codepay): how many reverses still answer "call again".
        self.counter = {"recall": 0}
        self._stop = threading.Event()

    def appids(self):
        """The appids bound to the merchant: the mini program's, and when set the official
        account's (``WECHAT_OA_APPID``: the web shop inside WeChat) and a native app's
        (``WECHAT_APP_APPID``)."""
        others = {self.settings.get(name) for name in ("WECHAT_OA_APPID", "WECHAT_APP_APPID")}
        return {self.config.appid} | {appid for appid in others if appid}

    def rotate_platform_certificate(self):
        """Sign with a new platform certificate from now on; returns its serial."""
        # Imported here, not with the package: ``python -m sandbox.devkeys`` runs that module
        # as __main__, and runpy warns when importing the package has already imported it.
        from .devkeys import _new_key, self_signed_certificate

        key = _new_key()
        pem = self_signed_certificate(key, "platform").decode()
        serial = certificate_serial(pem)
        with self.lock:
            self.retired_platform_certs.append(self.config.platform_cert_pem)
            self.config = replace(self.config, platform=Signer(serial, key), platform_cert_pem=pem)
        return serial

    def reset(self):
        """Forget everything and stop pending notification retries."""
        with self.lock:
            self._stop.set()
            self._clear()

    # --- orders ---------------------------------------------------------------------------

    def add_order(self, order):
        """Store a new order. Needs mchid, out_trade_no, api_version, trade_state ("NOTPAY"),
        notify_url, created_at and expire_at (unix); gets a prepay_id unless it has one."""
        with self.lock:
            order.setdefault("prepay_id", new_prepay_id())
            order.setdefault("prepay_expires_at", time.time() + PREPAY_LIFETIME)
            key = order_key(order)
            self.orders[key] = order
            self.order_keys.setdefault(order["out_trade_no"], []).append(key)
            self.prepays[order["prepay_id"]] = key
            return order

    def renew_prepay(self, order):
        """A fresh prepay_id for an identical re-submission after the old one expired."""
        with self.lock:
            order["prepay_id"] = new_prepay_id()
            order["prepay_expires_at"] = time.time() + PREPAY_LIFETIME
            self.prepays[order["prepay_id"]] = order_key(order)

    def order(self, mchid, out_trade_no):
        """The merchant's order with this out_trade_no, or None."""
        if not _numbers(mchid, out_trade_no):
            return None
        with self.lock:
            return self.orders.get((mchid, out_trade_no))

    def find_order(self, out_trade_no, mchid=None):
        """The order a control names by out_trade_no (and the merchant's mchid, if given), or
        None; ``Ambiguous`` when several merchants have that out_trade_no and none is named."""
        with self.lock:
            return self._find(self.orders, self.order_keys, "out_trade_no", out_trade_no, mchid)

    def order_by_prepay(self, prepay_id):
        if not _numbers(prepay_id):
            return None
        with self.lock:
            return self.orders.get(self.prepays.get(prepay_id))

    def order_by_transaction(self, transaction_id, mchid=None):
        """The order paid in this transaction (a merchant's only, if ``mchid`` is given)."""
        if not _numbers(transaction_id):
            return None
        with self.lock:
            order = self.orders.get(self.transactions.get(transaction_id))
            return order if order and mchid in (None, order["mchid"]) else None

    def order_by_reference(self, fields, mchid=None):
        """The order a request names: transaction_id wins over out_trade_no, as at WeChat.
        WeChat's endpoints give the merchant's ``mchid``; a control may not (``find_order``).

        None when neither is given or the order is unknown; callers tell the two apart.
        """
        if fields.get("transaction_id"):
            return self.order_by_transaction(fields["transaction_id"], mchid)
        if mchid is None:
            return self.find_order(fields.get("out_trade_no"))
        return self.order(mchid, fields.get("out_trade_no"))

    def mark_paid(self, order):
        """The user paid: SUCCESS, a transaction_id and a success time."""
        with self.lock:
            paid_at = time.time()
            # 28 digits shaped like WeChat's: 4200, 6 digits, the date, 10 digits.
            transaction_id = "4200" + digits(6) + compact_time(paid_at)[:8] + digits(10)
            order.update(
                trade_state="SUCCESS",
                paid_at=paid_at,
                success_time=rfc3339(paid_at),
                transaction_id=transaction_id,
                bank_type="OTHERS",
            )
            self.transactions[order["transaction_id"]] = order_key(order)

    # --- refunds ----------------------------------------------------------------------------

    def add_refund(self, refund):
        """Store a new refund (a dict with the order's mchid and its out_refund_no)."""
        with self.lock:
            key = (refund["mchid"], refund["out_refund_no"])
            self.refunds[key] = refund
            self.refund_keys.setdefault(refund["out_refund_no"], []).append(key)
            return refund

    def refund(self, mchid, out_refund_no):
        """The merchant's refund with this out_refund_no, or None."""
        if not _numbers(mchid, out_refund_no):
            return None
        with self.lock:
            return self.refunds.get((mchid, out_refund_no))

    def find_refund(self, out_refund_no, mchid=None):
        """The refund a control names by out_refund_no, like ``find_order``."""
        with self.lock:
            return self._find(self.refunds, self.refund_keys, "out_refund_no", out_refund_no, mchid)

    def _find(self, table, index, kind, number, mchid):
        if not _numbers(number, mchid or ""):
            return None
        if mchid is not None:
            return table.get((mchid, number))
        keys = index.get(number, ())
        if len(keys) > 1:
            raise Ambiguous(kind, number)
        return table[keys[0]] if keys else None

    # --- notifiers ----------------------------------------------------------------------------

    def notify(self, order):
        """Send the payment notification of a paid order with its version's notifier."""
        return self.payment_notifiers[order["api_version"]](self, order)

    def notify_refund(self, refund):
        """Send the refund notification of a settled refund with its version's notifier."""
        return self.refund_notifiers[refund.get("api_version", "v3")](self, refund)

    # --- faults -----------------------------------------------------------------------------

    def arm_fault(self, spec):
        fault = _validate_fault(spec)
        with self.lock:
            fault["id"] = next(self._fault_ids)
            self.faults.append(fault)
            return dict(fault)

    def take_api_fault(self, method, path, port=None):
        """The first armed API fault matching this request, used up once. ``port`` is the
        port the request came in on (a fault with "port" hits one base URL only)."""
        with self.lock:
            for fault in self.faults:
                if (
                    fault["kind"] == "api"
                    and path.startswith(fault["path"])
                    and fault.get("method") in (None, method)
                    and fault.get("port") in (None, port)
                ):
                    return self._use(fault)
        return None

    def take_notification_faults(self, out_trade_no):
        """The armed notification faults (at most one per action) for the next notification."""
        taken = {}
        with self.lock:
            for fault in list(self.faults):
                if (
                    fault["kind"] == "notify"
                    and fault["action"] not in taken
                    and fault.get("out_trade_no") in (None, out_trade_no)
                ):
                    taken[fault["action"]] = self._use(fault)
        return taken

    def take_refund_fault(self, out_trade_no):
        """The armed refund fault for the next refund (of that order, if it names one)."""
        with self.lock:
            for fault in self.faults:
                if fault["kind"] == "refund" and fault.get("out_trade_no") in (None, out_trade_no):
                    return self._use(fault)
        return None

    def _use(self, fault):
        fault["times"] -= 1
        if fault["times"] <= 0:
            self.faults.remove(fault)
        return dict(fault)

    # --- notification delivery ----------------------------------------------------------------

    def deliver(
        self, url, body, headers, is_acknowledged, *, event_id=None, out_trade_no=None, tamper=None
    ):
        """POST ``body`` to ``url`` on WeChat's retry schedule, in a background thread.

        ``headers`` is a dict, or a function(body) -> dict called before every attempt (v3 signs
        each attempt with a fresh timestamp). ``is_acknowledged(response)`` says whether the
        merchant took it (v3: status 200/204; v2: reply XML return_code SUCCESS). Anything
        else, a connection error, or no answer within SANDBOX_NOTIFY_TIMEOUT (5 s) means
        retry. Armed notification faults apply; ``tamper(body) -> body`` alters a signed body
        for the "tamper" probe (default: change one JSON field, or append a space).
        """
        faults = self.take_notification_faults(out_trade_no)
        stop = self._stop
        make_headers = headers if callable(headers) else (lambda _body: dict(headers))
        meta = {"url": url, "event_id": event_id, "out_trade_no": out_trade_no}

        def send(attempt, copy, fault=None):
            sent_headers = make_headers(body)  # signed over the genuine body
            payload = (tamper or _tamper)(body) if fault == "tamper" else body
            if fault == "signtest":
                probe = SIGNTEST_PREFIX + secrets.token_urlsafe(32)
                sent_headers["Wechatpay-Signature"] = probe
            try:
                response = requests.post(
                    url,
                    data=payload,
                    headers=sent_headers,
                    timeout=self.config.notify_timeout,
                    verify=self.config.ca_bundle or True,
                )
                status, error = response.status_code, None
                acknowledged = _acknowledged(is_acknowledged, response)
            except requests.RequestException as exc:
                status, error, acknowledged = None, type(exc).__name__, False
            if stop.is_set():
                return True  # reset while in flight: stop, and keep the new log clean
            self._log(
                meta,
                attempt=attempt,
                copy=copy,
                status=status,
                error=error,
                acknowledged=acknowledged,
                fault=fault,
            )
            return acknowledged

        def retry_until_acknowledged(copy):
            for attempt, wait in enumerate((0,) + RETRY_SCHEDULE, start=1):
                if stop.wait(wait * self.config.time_scale):
                    return  # the simulator was reset
                if send(attempt, copy):
                    return

        def run():
            for probe in ("signtest", "tamper"):  # one attempt each, before the real one
                if probe in faults:
                    send(1, 0, fault=probe)
            if "drop" in faults:
                self._log(
                    meta,
                    attempt=0,
                    copy=0,
                    status=None,
                    error="dropped",
                    acknowledged=False,
                    fault="drop",
                )
                return
            if "delay" in faults and stop.wait(faults["delay"]["seconds"]):
                return
            copies = faults["duplicate"]["copies"] if "duplicate" in faults else 1
            threads = [
                threading.Thread(target=retry_until_acknowledged, args=(copy,), daemon=True)
                for copy in range(1, copies + 1)
            ]
            for thread in threads:
                thread.start()

        threading.Thread(target=run, daemon=True).start()

    def _log(self, meta, **attempt):
        with self.lock:
            self.deliveries.append({**meta, **attempt, "time": rfc3339(time.time())})
            del self.deliveries[:-DELIVERY_LOG_SIZE]


def _acknowledged(is_acknowledged, response):
    # A reply the success test cannot even read (bad XML, say) is a failure: retry.
    try:
        return bool(is_acknowledged(response))
    except Exception:
        return False


def _tamper(body):
    try:
        obj = json.loads(body)
        obj["create_time"] = obj.get("create_time", "") + " "
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    except (ValueError, TypeError, AttributeError):
        return body + b" "


def _numbers(*values):
    """Ids come from requests: one that is not a string (a JSON list, say) names nothing."""
    return all(isinstance(value, str) for value in values)


def order_key(order):
    """An order's key: (mchid, out_trade_no), as WeChat keys orders."""
    return (order["mchid"], order["out_trade_no"])


def new_prepay_id():
    return "wx" + compact_time(time.time()) + secrets.token_hex(10)


def _validate_fault(spec):
    if not isinstance(spec, dict):
        raise FaultError("a fault is a JSON object")
    fault = dict(spec)
    times = fault.setdefault("times", 1)
    if not isinstance(times, int) or times < 1:
        raise FaultError("times must be a positive integer")
    kind = fault.get("kind")
    if kind == "api":
        if not isinstance(fault.get("path"), str) or not fault["path"].startswith("/"):
            raise FaultError("api fault needs a path prefix starting with /")
        if fault.get("method") is not None:
            fault["method"] = str(fault["method"]).upper()
        port = fault.get("port")
        if port is not None and (not isinstance(port, int) or not 0 < port < 65536):
            raise FaultError("port must be a TCP port number")
        status, delay = fault.get("status"), fault.setdefault("delay", 0)
        if fault.setdefault("reset", False) not in (True, False):
            raise FaultError("reset must be true or false")
        if status is None and not delay and not fault["reset"]:
            raise FaultError("api fault needs a status, a delay or reset")
        if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
            raise FaultError("status must be an HTTP status code")
        if not isinstance(delay, (int, float)) or not 0 <= delay <= 300:
            raise FaultError("delay must be 0..300 seconds")
    elif kind == "notify":
        action = fault.get("action")
        if action not in NOTIFY_ACTIONS:
            raise FaultError(f"notify fault action must be one of {', '.join(NOTIFY_ACTIONS)}")
        if action == "duplicate":
            copies = fault.setdefault("copies", 2)
            if not isinstance(copies, int) or not 1 <= copies <= 20:
                raise FaultError("copies must be 1..20")
        if action == "delay":
            seconds = fault.get("seconds")
            if not isinstance(seconds, (int, float)) or not 0 <= seconds <= 3600:
                raise FaultError("delay needs seconds (0..3600)")
    elif kind == "refund":
        if fault.get("status") not in ("PROCESSING", "ABNORMAL", "CLOSED", "SUCCESS"):
            raise FaultError("refund fault status must be PROCESSING, ABNORMAL, CLOSED or SUCCESS")
    else:
        raise FaultError('kind must be "api", "notify" or "refund"')
    return fault

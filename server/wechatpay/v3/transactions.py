"""The payment's own calls, the same whichever way it was placed (JSAPI, Native, H5, APP, the
payment code), a direct merchant's or a service provider's: query by out_trade_no, close, and
the payment notification."""

from urllib.parse import quote

from .. import checks
from ..core.errors import InvalidResponse, NotificationError
from ..core.types import Notification, Transaction
from .client import parse_time


class Transactions:
    """``/v3/pay/transactions/out-trade-no/...`` and ``TRANSACTION.*`` notifications."""

    def query_order(self, out_trade_no):
        path = f"{self.transactions_path}/out-trade-no/{quote(out_trade_no, safe='')}"
        return parse_transaction(self._call("GET", path, query=self._merchant_ids()))

    def close_order(self, out_trade_no):
        path = f"{self.transactions_path}/out-trade-no/{quote(out_trade_no, safe='')}/close"
        self._call("POST", path, self._merchant_ids())

    def parse_payment_notification(self, headers, body):
        event_id, event_type, payload = self._open_notification(headers, body)
        try:
            transaction = parse_transaction(payload)
        except (ValueError, InvalidResponse) as exc:
            raise NotificationError(
                f"decrypted resource is not a transaction: {exc}", "MALFORMED"
            ) from None
        return Notification(
            event_id=event_id, event_type=event_type, transaction=transaction, payload=payload
        )


def parse_transaction(data):
    """A gateway Transaction from a v3 transaction object (query response or notification).

    Signed is not the same as well-formed: every field we read is checked for type and length
    here, so a verified message with a list, a number or an over-long id in it is refused
    (InvalidResponse) instead of failing in the database.

    A service provider's transaction (the partner shape: wechatpay-go
    services/partnerpayments/models.go Transaction) names sp_appid and sp_mchid, read as
    ``appid`` and ``mchid`` (the provider's), beside sub_mchid and sub_appid; its payer is
    ``sub_openid`` or ``sp_openid``.
    """
    try:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        amount = data.get("amount") or {}
        payer = data.get("payer") or {}
        if not isinstance(amount, dict) or not isinstance(payer, dict):
            raise ValueError("amount or payer is not an object")
        if (checks.text(amount, "currency", 8) or "CNY") != "CNY":
            raise ValueError("amount.currency is not CNY")  # fen of another currency
        total = amount.get("total")
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int) or not 0 <= total < 2**31
        ):
            raise ValueError("amount.total is not a whole number of fen")
        return Transaction(
            out_trade_no=checks.text(data, "out_trade_no", checks.MAX_OUT_TRADE_NO, required=True),
            trade_state=checks.trade_state(data),
            appid=_first(data, ("appid", "sp_appid"), checks.MAX_ID),
            mchid=_first(data, ("mchid", "sp_mchid"), checks.MAX_ID),
            total=total,
            transaction_id=checks.text(data, "transaction_id", checks.MAX_TRANSACTION_ID),
            openid=_first(payer, ("openid", "sub_openid", "sp_openid"), checks.MAX_OPENID),
            success_time=parse_time(checks.text(data, "success_time", checks.MAX_TEXT)),
            trade_state_desc=checks.text(data, "trade_state_desc", checks.MAX_TEXT),
            sub_mchid=checks.text(data, "sub_mchid", checks.MAX_ID),
            sub_appid=checks.text(data, "sub_appid", checks.MAX_ID),
        )
    except ValueError as exc:
        raise InvalidResponse(f"not a transaction object: {exc}") from None


def _first(data, names, limit):
    """The first of ``names`` that ``data`` has (each checked like any field)."""
    found = [checks.text(data, name, limit) for name in names]
    return next((value for value in found if value), None)

"""The payment's own calls, the same whichever way it was placed (JSAPI today; Native, H5 and
APP later): orderquery, closeorder, and the payment notification."""

from .. import checks, crypto
from ..core.errors import ApiError, InvalidResponse, NotificationError
from ..core.types import PAYERROR, SUCCESS, Notification, Transaction
from .client import MAX_NOTIFICATION_BYTES, SIGN_TYPES
from .messages import XmlError, fen, parse_time, xml_to_dict


class Transactions:
    """``/pay/orderquery``, ``/pay/closeorder`` and the payment notification."""

    def query_order(self, out_trade_no):
        data = self._call(
            "/pay/orderquery", {"out_trade_no": out_trade_no}, retry=self.retry_queries
        )
        if data.get("out_trade_no") != out_trade_no or not data.get("trade_state"):
            raise InvalidResponse("orderquery answered about another order, or without state")
        try:
            return self._transaction(data, data["trade_state"])
        except ValueError as exc:
            raise InvalidResponse(f"orderquery answer is malformed: {exc}") from None

    def close_order(self, out_trade_no):
        try:
            self._call("/pay/closeorder", {"out_trade_no": out_trade_no}, retry=False)
        except ApiError as exc:
            if exc.code != "ORDERCLOSED":  # already closed is what we wanted
                raise

    def parse_payment_notification(self, headers, body):
        """Verify a v2 payment notification (``headers`` are unused: v2 signs the body)."""
        try:
            fields = xml_to_dict(body, MAX_NOTIFICATION_BYTES)
        except XmlError as exc:
            raise NotificationError(f"notification is not v2 XML: {exc}", "MALFORMED") from None
        # The (signed) sign_type field when present. Without it, the configured type, then
        # MD5: some notifications are MD5-signed even for HMAC merchants (docs/protocol.md B5).
        # Every candidate needs the API key, so this is no downgrade to an unsigned message.
        declared = fields.get("sign_type")
        candidates = [declared] if declared else [self.sign_type, crypto.MD5]
        if not any(
            t in SIGN_TYPES and crypto.v2_verify(fields, self.api_key, t) for t in candidates
        ):
            raise NotificationError("notification sign does not verify", "SIGNATURE_INVALID")
        if fields.get("return_code") != SUCCESS:
            raise NotificationError("notification has return_code FAIL", "NOT_SUCCESS")
        # A signed report of a failed payment changes nothing, but is acknowledged so that
        # WeChat stops resending it.
        paid = fields.get("result_code") == SUCCESS
        if not fields.get("out_trade_no") or (paid and not fields.get("transaction_id")):
            raise NotificationError(
                "notification lacks transaction_id or out_trade_no", "MALFORMED"
            )
        try:
            transaction = self._transaction(fields, SUCCESS if paid else PAYERROR)
            if transaction.total is None:
                raise ValueError("no total_fee")
            if fields.get("fee_type", "CNY") != "CNY":  # fen of another currency are not fen
                raise ValueError("fee_type is not CNY")
        except ValueError as exc:
            raise NotificationError(f"notification is malformed: {exc}", "MALFORMED") from None
        # v2 has no notification id; WeChat sends one success notification per transaction.
        return Notification(
            event_id=fields.get("transaction_id") or fields["out_trade_no"],
            event_type="TRANSACTION.SUCCESS" if paid else "TRANSACTION.FAIL",
            transaction=transaction,
            payload=fields,
        )

    def _transaction(self, data, trade_state):
        """A Transaction from v2 fields; ValueError when a field has the wrong form or length
        (signed is not the same as well-formed)."""
        total = data.get("total_fee")
        return Transaction(
            out_trade_no=checks.text(data, "out_trade_no", checks.MAX_OUT_TRADE_NO, required=True),
            trade_state=checks.trade_state({"trade_state": trade_state}),
            appid=checks.text(data, "appid", checks.MAX_ID),
            mchid=checks.text(data, "mch_id", checks.MAX_ID),
            total=fen(total) if total else None,
            transaction_id=checks.text(data, "transaction_id", checks.MAX_TRANSACTION_ID),
            # A service provider's payer under the sub-merchant's appid: sub_openid.
            openid=checks.text(data, "sub_openid", checks.MAX_OPENID)
            or checks.text(data, "openid", checks.MAX_OPENID),
            success_time=parse_time(checks.text(data, "time_end", checks.MAX_TEXT)),
            trade_state_desc=checks.text(data, "trade_state_desc", checks.MAX_TEXT),
            sub_mchid=checks.text(data, "sub_mch_id", checks.MAX_ID),
            sub_appid=checks.text(data, "sub_appid", checks.MAX_ID),
        )

"""Bills (docs/protocol.md B4): ``/pay/downloadbill`` and ``/pay/downloadfundflow`` of one Beijing
day. The bill itself is plain text (gzip here), not XML and not signed; only a refusal is XML."""

import gzip

from .. import crypto
from ..core.errors import ApiError, BillNotReady, InvalidResponse
from .messages import dict_to_xml

MAX_BILL_BYTES = 64 * 1024 * 1024
# downloadbill answers these (in return_msg) instead of a bill: none that day / not made yet.
NO_BILL_MESSAGES = ("No Bill Exist",)
BILL_NOT_READY_MESSAGES = ("Bill Creating",)


class Bills:
    """The trade bill and the fund flow bill."""

    def download_trade_bill(self, day):
        """``/pay/downloadbill`` (ALL) of one Beijing day as bytes; None when WeChat has none.

        The bill itself is plain text (gzip here), not XML and not signed; only a refusal is
        XML. v2 gives no hash to check it against.
        """
        body = dict_to_xml(
            self._signed(
                {"bill_date": day.strftime("%Y%m%d"), "bill_type": "ALL", "tar_type": "GZIP"}
            )
        )
        return self._bill("/pay/downloadbill", body, self.session)

    def download_fund_flow_bill(self, day):
        """``/pay/downloadfundflow`` (the Basic account) of one Beijing day; None when WeChat
        has none. WeChat wants it signed with HMAC-SHA256 whatever the merchant's sign type,
        over mutual TLS with the merchant's API certificate."""
        if self.cert_session is None:
            raise ApiError(
                "CLIENT_CERT_NOT_CONFIGURED",
                "the fund flow bill needs the "
                "merchant's API certificate: set WECHATPAY_CERT and "
                "WECHATPAY_PRIVATE_KEY",
            )
        body = dict_to_xml(
            self._signed(
                {"bill_date": day.strftime("%Y%m%d"), "account_type": "Basic", "tar_type": "GZIP"},
                crypto.HMAC_SHA256,
            )
        )
        return self._bill("/pay/downloadfundflow", body, self.cert_session)

    def _bill(self, path, body, session):
        raw, _request_id = self._post(path, body, session, MAX_BILL_BYTES)
        if len(raw) > MAX_BILL_BYTES:
            raise InvalidResponse("bill larger than we accept")
        if raw[:2] == b"\x1f\x8b":
            try:
                return gzip.decompress(raw)
            except (OSError, EOFError):
                raise InvalidResponse("bill is not valid gzip") from None
        if raw.lstrip()[:5] != b"<xml>":
            return raw
        try:
            self._check(path, raw)
        except ApiError as exc:
            if any(text in exc.message for text in NO_BILL_MESSAGES):
                return None
            if any(text in exc.message for text in BILL_NOT_READY_MESSAGES):
                raise BillNotReady(exc.message) from None
            raise
        raise InvalidResponse(f"{path} answered XML without a bill")

"""Bills (docs/protocol.md C7): the trade bill and the fund flow bill of one Beijing day, downloaded
and checked against the SHA1 WeChat announces."""

import gzip
import hashlib
import hmac
from urllib.parse import urlsplit

from ..core.errors import ApiError, BillHashMismatch, BillNotReady, InvalidResponse

# "No bill for that day" is an answer, not a failure; "still being made" means later.
BILL_ABSENT_CODES = {"NO_STATEMENT_EXIST"}
BILL_NOT_READY_CODES = {"STATEMENT_CREATING"}


class Bills:
    """``/v3/bill/tradebill`` and ``/v3/bill/fundflowbill``, then the file itself."""

    def download_trade_bill(self, day):
        """The trade bill (ALL) of one Beijing day as bytes; None when WeChat has none."""
        return self._download_bill(
            "/v3/bill/tradebill",
            {"bill_date": day.isoformat(), "bill_type": "ALL", "tar_type": "GZIP"},
        )

    def download_fund_flow_bill(self, day):
        """The fund flow bill of the basic account for one Beijing day; None when none."""
        return self._download_bill(
            "/v3/bill/fundflowbill",
            {"bill_date": day.isoformat(), "account_type": "BASIC", "tar_type": "GZIP"},
        )

    def _download_bill(self, path, query):
        try:
            data = self._call("GET", path, query=query)
        except ApiError as exc:
            if exc.code in BILL_ABSENT_CODES:
                return None
            if exc.code in BILL_NOT_READY_CODES:
                raise BillNotReady(exc.message) from None
            raise
        data = data or {}
        url, hash_value = data.get("download_url"), data.get("hash_value")
        if (
            data.get("hash_type") != "SHA1"
            or not isinstance(hash_value, str)
            or not isinstance(url, str)
        ):
            raise InvalidResponse("bill answer lacks download_url or a SHA1 hash_value")
        # Our signed request goes to our configured API host only, whatever host the URL names.
        parts = urlsplit(url)
        status, _headers, raw = self._send(
            "GET", parts.path + (f"?{parts.query}" if parts.query else "")
        )
        if status != 200:
            self._decode(status, raw)  # raises ApiError with WeChat's code
        # The file answer is the one v3 answer WeChat does not sign (docs/protocol.md C3); the SHA1
        # of the first (signed) answer covers the decompressed bill (WeChat's doc: 原始账单,
        # gzip需要解压缩).
        try:
            bill = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        except (OSError, EOFError):
            raise InvalidResponse("bill file is not valid gzip") from None
        if not hmac.compare_digest(hashlib.sha1(bill).hexdigest(), hash_value.lower()):
            raise BillHashMismatch("bill file does not match the SHA1 WeChat announced")
        return bill

"""The form of v2 messages: flat ``<xml>`` documents, refused when unusual, and the formats of
their fields (Beijing times, fen, notify URLs)."""

import re
from datetime import datetime
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .. import checks
from ..core.types import CHINA

V2_TIME_FORMAT = "%Y%m%d%H%M%S"  # time_expire, time_end: Beijing time
MAX_NOTIFY_URL_CHARS = 256


# The encoding an XML declaration names, if any (the declaration is ASCII in every encoding
# expat reads; UTF-16 would start with a BOM and fail as not well-formed).
XML_DECLARED_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")


class XmlError(ValueError):
    """A body that is not a flat, well-formed ``<xml>...</xml>`` document."""


def xml_to_dict(data, max_bytes, root_tag="xml"):
    """The fields of a flat v2 XML document, refusing anything unusual.

    DTDs and entity declarations are refused outright (billion laughs, external entities), as
    are nested elements and repeated field names: a signature must cover exactly what we read.
    ``root_tag`` is ``xml`` except in a refund notification's decrypted ``req_info`` (``root``).
    """
    if not isinstance(data, (bytes, bytearray)) or len(data) > max_bytes:
        raise XmlError("body missing or too large")
    # WeChat writes UTF-8 only. Another declared encoding is refused before parsing: expat
    # raises ValueError for multi-byte ones (GBK, Shift_JIS) and LookupError for unknown names.
    declared = XML_DECLARED_ENCODING.match(bytes(data))
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise XmlError("the XML declaration names an encoding other than UTF-8")
    try:
        root = fromstring(bytes(data), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise XmlError(f"not well-formed XML: {type(exc).__name__}") from None
    if root.tag != root_tag:
        raise XmlError(f"root element is not <{root_tag}>")
    fields = {}
    for child in root:
        if not isinstance(child.tag, str) or len(child) or child.tag in fields:
            raise XmlError("nested or repeated element")
        fields[child.tag] = child.text or ""
    return fields


def dict_to_xml(fields):
    """``<xml>`` with every value in CDATA (integers bare), as WeChat and the SDKs write it."""
    parts = ["<xml>"]
    for name, value in fields.items():
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        else:  # "]]>" cannot appear inside CDATA: close and reopen around it
            text = "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"
        parts.append(f"<{name}>{text}</{name}>")
    parts.append("</xml>")
    return "".join(parts).encode()


def parse_time(value):
    """``yyyyMMddHHmmss`` Beijing time -> aware datetime; None for an empty value."""
    if not value:
        return None
    if len(value) != 14 or not checks.is_ascii_number(value):
        raise ValueError(f"not a yyyyMMddHHmmss time: {value[:20]!r}")
    return datetime.strptime(value, V2_TIME_FORMAT).replace(tzinfo=CHINA)


def format_time(moment):
    if moment.tzinfo is None:
        raise ValueError("time_expire must be timezone-aware")
    return moment.astimezone(CHINA).strftime(V2_TIME_FORMAT)


def check_notify_url(url):
    """WeChat refuses (or silently mangles) notify URLs with a query string or fragment."""
    parts = urlsplit(url or "")
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
        or parts.fragment
        or "?" in url
        or len(url) > MAX_NOTIFY_URL_CHARS
    ):
        raise ValueError(
            "notify_url must be an http(s) URL of at most 256 characters with no query string"
        )
    return url


def fen(value, name="total_fee"):
    # ASCII digits only: int() would also read "１００" (full-width) as 100.
    if not checks.is_ascii_number(value) or len(value) > 9:
        raise ValueError(f"{name} is not a whole number of fen")
    return int(value)

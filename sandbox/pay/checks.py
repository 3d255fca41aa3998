"""Checks both API versions make the same way."""

from urllib.parse import urlsplit


def is_notify_url(url):
    """An http(s) URL of at most 256 characters with a host and no query or fragment.

    WeChat wants https; http is allowed here so that a local backend can be reached.
    """
    try:
        parts = urlsplit(url) if isinstance(url, str) and len(url) <= 256 else None
    except ValueError:  # e.g. an unclosed IPv6 bracket: http://[::1
        return False
    return bool(
        parts
        and parts.scheme in ("https", "http")
        and parts.hostname
        and not parts.query
        and not parts.fragment
    )

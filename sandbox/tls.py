"""Serving the simulator over HTTPS, with the client certificate check of ``/secapi/``.

WeChat serves every API over TLS and wants the merchant's API certificate on ``/secapi/``
paths (refund, reverse). One server answers both kinds of path, so the handshake only *asks*
for a client certificate (``CERT_OPTIONAL``), verified against ``client_ca``; the ``/secapi/``
routes then refuse a request that brought none, or one that is not the merchant's
(``sandbox.pay.v2.core``).
"""

import ssl


def server_context(cert, key, client_ca):
    """An SSL context for ``werkzeug``: our certificate, and client certificates verified
    against ``client_ca`` (by default the merchant's self-signed dev certificate itself)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # trusts no CA but client_ca
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context

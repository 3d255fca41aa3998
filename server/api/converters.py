"""URL converters for the API's routes.

werkzeug's ``int`` converter matches with ``\\d``, which in Python also accepts full-width and
other Unicode digits ("/api/orders/１"); ids in our URLs are ASCII digits only.
"""

from werkzeug.routing import IntegerConverter


class IdConverter(IntegerConverter):
    """A database id: at most 2**31-1 (PostgreSQL's integer), written in ASCII digits."""

    regex = r"[0-9]+"

    def __init__(self, map):
        super().__init__(map, max=2**31 - 1)


def register(app):
    app.url_map.converters["id"] = IdConverter

"""Uploaded media (product images, ``server/domain/images.py``) under MEDIA_DIR, at /media/.

In production nginx serves /media/ from the same directory before a request reaches the app
(nginx/wxpay.conf.template); this view serves it in development and wherever no nginx is in
front. Either way with a year-long cache: a file's name is the hash of its upload, so its
content never changes.
"""

from flask import Blueprint, current_app, send_from_directory, url_for

from .domain import images

bp = Blueprint("media", __name__)

YEAR = 365 * 24 * 3600


@bp.get("/media/<path:filename>")
def media_file(filename):
    # send_from_directory refuses paths that leave the directory ("..", absolute): 404.
    response = send_from_directory(current_app.config["MEDIA_DIR"], filename, max_age=YEAR)
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def image_urls(key, external=True):
    """``{size: URL}`` of a product's image (absolute for the mini program, which cannot load
    a relative one), or None."""
    found = images.paths(key)
    if found is None:
        return None
    return {
        size: url_for("media.media_file", filename=path, _external=external)
        for size, path in found.items()
    }

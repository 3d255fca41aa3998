"""Product images: an upload checked, re-encoded and resized with Pillow, stored under the media
directory (MEDIA_DIR) in a few sizes. No Flask: the console uploads through ``store``; the API,
the console and the web shop show ``paths``.

Re-encoding is the check that matters: whatever the upload held (a script in a comment, EXIF
with the shop's GPS position, a polyglot file), what is served is a JPEG Pillow wrote from the
pixels alone. Files are named by the hash of the upload, so a file's content never changes
and it is served with a year-long cache (nginx in production, Flask in development); a new
picture is a new name.

    media/products/<key>-thumb.jpg    160 px on the longest side (lists)
    media/products/<key>-medium.jpg   480 px (the mini program's product cards, the console)
    media/products/<key>-large.jpg    960 px (a product page)
"""

import hashlib
import io
import os
import tempfile
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DomainError

SIZES = {"thumb": 160, "medium": 480, "large": 960}
MAX_BYTES = 5 * 1024 * 1024  # an upload; a phone's photo is 2 to 4 MB
MAX_PIXELS = 40_000_000  # decoded: a 5 MB file could otherwise decode to gigabytes
FORMATS = {"JPEG", "PNG", "WEBP"}
FOLDER = "products"
QUALITY = 85


def invalid(reason, message):
    return DomainError("INVALID_IMAGE", message, reason=reason)


def store(data, media_dir):
    """Check ``data`` (the uploaded bytes) and write its sizes under ``media_dir``; returns the
    key the product records (``Product.image``). INVALID_IMAGE (``reason``: too_large, empty,
    not_an_image, unsupported_format, too_many_pixels) and nothing written otherwise."""
    if not data:
        raise invalid("empty", "the file is empty")
    if len(data) > MAX_BYTES:
        raise invalid("too_large", f"the file is over {MAX_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind, (width, height) = probe.format, probe.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise invalid("not_an_image", "the file is not a picture Pillow can read") from None
    if kind not in FORMATS:
        raise invalid("unsupported_format", f"{kind} pictures are not taken: JPEG, PNG or WebP")
    if width * height > MAX_PIXELS:
        raise invalid("too_many_pixels", f"the picture is {width}×{height} pixels: too many")
    try:
        with Image.open(io.BytesIO(data)) as source:
            source.load()
            picture = _flattened(ImageOps.exif_transpose(source))
    except (OSError, ValueError, Image.DecompressionBombError):  # truncated or corrupt
        raise invalid("not_an_image", "the file is not a picture Pillow can read") from None
    key = hashlib.sha256(data).hexdigest()[:32]
    folder = Path(media_dir) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for size, pixels in SIZES.items():
        copy = picture.copy()
        copy.thumbnail((pixels, pixels), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        copy.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
        _write(folder / f"{key}-{size}.jpg", out.getvalue())
    return key


def _flattened(picture):
    """RGB pixels: transparency on white (JPEG has none), palettes and CMYK converted."""
    if picture.mode in ("RGBA", "LA", "P", "PA"):
        picture = picture.convert("RGBA")
        background = Image.new("RGB", picture.size, (255, 255, 255))
        background.paste(picture, mask=picture.getchannel("A"))
        return background
    return picture.convert("RGB")


def _write(path, content):
    """Write atomically: a reader (nginx) sees the whole file or none."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def paths(key):
    """``{size: path under the media directory}`` of a stored image; None for no image."""
    if not key:
        return None
    return {size: f"{FOLDER}/{key}-{size}.jpg" for size in SIZES}

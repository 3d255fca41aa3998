"""Product images in production: nginx serves MEDIA_DIR at /media/ itself, cached for a year,
and lets the console's product form upload more than the API's 64 KiB."""

import pytest
import requests

from tests.deploy.test_nginx_gunicorn import Nginx, echo_app, nginx_binary, run_render, tls  # noqa: F401
from tests.support import require
from tests.support.live import LiveServer
from tests.support.tls import DOMAIN

pytestmark = pytest.mark.database_agnostic


@pytest.fixture(scope="module")
def media_proxy(tmp_path_factory, tls):  # noqa: F811
    require(nginx_binary(), "nginx is not installed (apt-get install nginx)")
    media = tmp_path_factory.mktemp("media")
    (media / "products").mkdir()
    (media / "products" / "abc-thumb.jpg").write_bytes(b"\xff\xd8\xff\xe0 a jpeg")
    directory = tmp_path_factory.mktemp("nginx-media")
    with LiveServer(echo_app) as upstream:
        nginx = Nginx(directory, tls, f"127.0.0.1:{upstream.port}")
        rendered = run_render(
            *("--domain", DOMAIN, "--cert", tls["cert"], "--key", tls["key"]),
            *("--upstream", f"127.0.0.1:{upstream.port}", "--media-dir", str(media)),
            *("--listen-https", f"127.0.0.1:{nginx.https_port}"),
            *("--listen-http", f"127.0.0.1:{nginx.http_port}"),
            *("--acme-root", str(directory / "acme"), "--standalone", str(directory)),
        )
        assert rendered.returncode == 0, rendered.stderr
        nginx.conf.write_text(rendered.stdout)
        try:
            yield nginx.start()
        finally:
            nginx.stop()


def test_images_are_served_from_disk_with_a_year_long_cache(media_proxy, tls):  # noqa: F811
    response = requests.get(
        media_proxy.https + "/media/products/abc-thumb.jpg", verify=tls["ca"], timeout=5
    )
    assert response.status_code == 200
    assert response.content == b"\xff\xd8\xff\xe0 a jpeg"  # the file, not the echo app
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    for missing in ("/media/products/nope.jpg", "/media/products/"):
        answer = requests.get(media_proxy.https + missing, verify=tls["ca"], timeout=5)
        assert answer.status_code in (403, 404), missing
    # A path out of the directory is normalised before it is matched: never the directory's
    # neighbours (nginx.conf sits next to nothing served, but the media dir's parent does).
    escape = requests.get(
        media_proxy.https + "/media/%2e%2e/nginx.conf", verify=tls["ca"], timeout=5
    )
    assert "ssl_certificate" not in escape.text


def test_the_product_form_may_upload_an_image_and_the_api_may_not(media_proxy, tls):  # noqa: F811
    image = b"x" * (2 * 1024 * 1024)
    upload = requests.post(
        media_proxy.https + "/console/catalogue/1", data=image, verify=tls["ca"], timeout=10
    )
    assert upload.status_code == 200  # reached the (echo) backend
    assert upload.json()["uri"] == "/console/catalogue/1"
    api = requests.post(media_proxy.https + "/api/orders", data=image, verify=tls["ca"], timeout=10)
    assert api.status_code == 413

"""Serve a WSGI app over real HTTP on a free localhost port, in a background thread."""

import threading

from werkzeug.serving import make_server


class LiveServer:
    """``with LiveServer(app) as server: requests.get(server.url + "/path")``.

    The port is bound at construction, so ``url`` is known before the app exists: pass
    ``app=None`` and set ``server.app`` later (the backend needs its own notify URL).
    """

    def __init__(self, app=None, host="127.0.0.1", port=0, ssl_context=None):
        self.app = app
        self._server = make_server(
            host, port, self._dispatch, threaded=True, ssl_context=ssl_context
        )
        self.port = self._server.server_port
        self.url = f"{'https' if ssl_context else 'http'}://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
        )

    def _dispatch(self, environ, start_response):
        return self.app(environ, start_response)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

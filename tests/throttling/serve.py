"""A real HTTP server process running the test app: `python -m tests.throttling.serve PORT`.
Used to show that limits hold across processes sharing one Redis."""

from __future__ import annotations

import sys

from werkzeug.serving import make_server

from tests.throttling.testapp import build_app


def main() -> None:
    port = int(sys.argv[1])
    # A generous timeout: this test is about sharing limits, not about Redis being slow.
    app = build_app({"THROTTLE_REDIS_TIMEOUT": 1.0, "SERVER_NAME": None})
    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    main()

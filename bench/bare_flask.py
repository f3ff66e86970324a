"""The reference for bench/collector_throughput.py: a bare Flask endpoint that reads the body and
answers 204, served by the same gunicorn configuration as the collector."""

from flask import Flask, Response, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/v1/events")
    def events() -> Response:
        request.get_data()
        return Response(status=204)

    return app

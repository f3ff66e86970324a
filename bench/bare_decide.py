"""The reference for bench/decision_api.py: a bare Flask ``GET /v1/decide`` that reads the slot
and the cookie and answers a fixed decision-sized JSON, served by the same gunicorn
configuration as the decision API (``personalization/gunicorn.conf.py``)."""

from flask import Flask, Response, jsonify, request

ANSWER = {
    "decision_id": "0" * 32, "slot": "hero", "variant": "default", "arm": "rules",
    "content": {"html": "<p class=\"hero-title\">New season trail shoes are in</p>"},
    "intent": 0.0421, "segment": "new_visitor",
    "recommendations": [{"sku": f"SKU-{i}", "name": f"Product {i}",
                         "url": f"https://shop.example.com/p/SKU-{i}", "price": 99.0}
                        for i in range(4)],
}


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/v1/decide")
    def decide() -> Response:
        body = dict(ANSWER, slot=request.args.get("slot", "hero"))
        request.cookies.get("cl_vid")
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"
        return response

    return app

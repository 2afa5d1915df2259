"""The FastAPI application of docs/integration.md: a cookie login, an HTTP route and a page
beside the broker, the broker mounted with ``WsmqASGI.routes()`` and started by the app's
lifespan. tests/test_asgi.py runs it under uvicorn with the Python client and Chromium."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from websocketmq import Broker, BrokerOptions, HandshakeRequest, Message
from websocketmq.asgi import WsmqASGI

__all__ = ["PAGE", "create_app"]

PAGE = """<!doctype html>
<meta charset="utf-8"><title>wsmq in FastAPI</title>
<p id="result">connecting</p>
<script src="/websocketmq.js"></script>
<script>
  const client = new WebSocketMQ(`ws://${location.host}/ws`);
  const out = document.getElementById('result');
  client.onOpen = async () => {
    try {
      const me = await client.request('app.whoami', null, 5000);
      out.textContent = JSON.stringify(me);
    } catch (error) {
      out.textContent = `error ${error.code}: ${error.message}`;
    }
    out.dataset.done = 'yes';
  };
  client.connect();
</script>
"""


def create_app(**options: Any) -> tuple[FastAPI, Broker]:
    """The app and its broker; ``options`` are extra ``BrokerOptions`` fields."""
    sessions: dict[str, str] = {}  # session cookie -> user name (the app's own login)

    def authenticate(request: HandshakeRequest) -> Any:
        user = sessions.get(request.cookies.get("session", ""))
        return {"user": user} if user else None  # None: HTTP 401, no WebSocket

    broker = Broker(BrokerOptions(authenticate=authenticate, **options))
    wsmq = WsmqASGI(broker, path="/ws")
    app = FastAPI(lifespan=wsmq.lifespan)
    app.routes.extend(wsmq.routes())

    @app.get("/login")
    async def login(user: str) -> RedirectResponse:
        token = secrets.token_urlsafe(16)
        sessions[token] = user
        response = RedirectResponse("/", status_code=303)
        response.set_cookie("session", token, httponly=True, samesite="lax")
        return response

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE

    @app.get("/api/clients")
    async def clients() -> dict[str, int]:
        return {"connected": len(broker.client_ids())}

    @broker.subscribe("app.whoami")
    def whoami(msg: Message, client_id: str | None) -> Any:
        conn = broker.get_client(client_id or "")
        return conn.identity if conn is not None else None

    return app, broker

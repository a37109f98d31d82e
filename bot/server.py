"""Running the bot: Socket Mode with an app-level token, otherwise HTTP mode on /slack/events.

In Socket Mode Slack sends each event to one connection, so only one `qa slack` may hold it:
`run_socket_mode` connects only while this process holds the leader lock in the shared state
(`QA_STATE_URL`), and disconnects the moment the lock is lost. Other processes wait as standbys
and take over within seconds when the leader dies. HTTP mode needs no leader: replicas behind a
load balancer share the event dedupe instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

from bot.app import SlackBot
from qa.errors import QAError
from qa.state import Leader

SOCKET_MODE_LEADER = "slack-socket-mode"


def http_app(bot: SlackBot) -> FastAPI:
    """The ASGI app Slack posts events, commands and button clicks to."""
    web = FastAPI(title="News QA Slack bot", docs_url=None, redoc_url=None, openapi_url=None)

    @web.post("/slack/events")
    async def events(request: Request) -> Response:
        body = await request.body()
        # bolt verifies the signature and timestamp, acknowledges, and runs listeners after the response
        bolt_response = await to_thread.run_sync(bot.app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    @web.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            index = bot.pipeline.index
        except QAError as exc:
            return JSONResponse({"status": "error", "detail": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "documents": len(index.documents), "index_version": index.version})

    return web


def run_socket_mode(bot: SlackBot, app_token: str, leader: Leader, say: Callable[[str], None], stop: threading.Event) -> None:
    """Hold the Socket Mode connection while leading; stand by otherwise. Returns when `stop` is set."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    def standby(holder: str | None) -> None:
        say(
            f"standby: {holder or 'no one'} holds the Slack Socket Mode connection; this process ({leader.identity}) takes over if it stops"
        )

    while leader.acquire(stop, announce=standby):
        say(f"leader: this process ({leader.identity}) holds the Slack Socket Mode connection")
        handler = SocketModeHandler(bot.app, app_token)
        try:
            handler.connect()
            while not stop.is_set() and not leader.lost.wait(0.2):
                pass
        finally:
            handler.close()  # no more events reach this process
            leader.release()
        if leader.lost.is_set():
            say("lost the leader lock: disconnected from Slack Socket Mode; standing by")

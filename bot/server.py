"""Running the bot: Socket Mode with an app-level token, otherwise HTTP mode on /slack/events."""

from __future__ import annotations

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

from bot.app import SlackBot
from qa.errors import QAError


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


def run_socket_mode(bot: SlackBot, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(bot.app, app_token).start()

"""Running the bot: Socket Mode with an app-level token, otherwise HTTP mode on /slack/events.

In Socket Mode Slack sends each event to one connection, so only one `qa slack` may hold it:
`run_socket_mode` connects only while this process holds the leader lock in the shared state
(`QA_STATE_URL`), and disconnects the moment the lock is lost. Other processes wait as standbys
and take over within seconds when the leader dies. HTTP mode needs no leader: replicas behind a
load balancer share the event dedupe instead.

`run` is the bot's whole start-up, which `qa slack` calls with its validated settings: it checks
the tokens, opens the index and the shared state (refusing to start without them), connects to
Slack and serves until stopped. Problems are `SlackSetupError`s, one line naming the fix; what it
has to tell the operator goes through the `say` and `warn` callbacks, so the CLI stays the one
thing that writes to the terminal.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from urllib.parse import urlparse

import uvicorn
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from bot.app import SlackBot
from qa.config import Settings
from qa.errors import QAError, Unavailable
from qa.pipeline import QAPipeline
from qa.state import Leader

SOCKET_MODE_LEADER = "slack-socket-mode"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


class SlackSetupError(Unavailable):
    """The bot cannot start as configured: a token is missing or refused, or Slack cannot be reached."""


def run(settings: Settings, host: str, port: int, say: Callable[[str], None], warn: Callable[[str], None]) -> None:
    """Start the bot and serve until stopped: Socket Mode when SLACK_APP_TOKEN is set, else HTTP
    mode on http://host:port/slack/events.

    Like `qa serve`, it refuses to start without a built index or with unreachable shared state,
    and loads the models before it takes the first event, so Slack's 3-second acknowledgement
    never waits for them.
    """
    check_settings(settings, warn)
    logging.getLogger("slack_bolt").setLevel(logging.ERROR)  # bolt's notices about its own defaults are noise here
    pipeline = QAPipeline(settings)
    pipeline.require_index()
    pipeline.state.check()  # an unreachable Redis is one line now, not a failed answer later
    pipeline.warm_up()
    bot = connect(pipeline, settings)
    if settings.slack_app_token is None:
        say(f"Slack bot listening on http://{host}:{port}/slack/events")
        uvicorn.run(http_app(bot), host=host, port=port, log_level="warning")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # give the lock up at once: a standby takes over
    try:
        run_socket_mode(bot, settings.slack_app_token.get_secret_value(), pipeline.state.leader(SOCKET_MODE_LEADER), say, stop)
    except KeyboardInterrupt:
        pass
    except (SlackApiError, OSError) as exc:
        raise SlackSetupError(
            f"cannot open a Slack Socket Mode connection ({exc}); check SLACK_APP_TOKEN and QA_SLACK_API_URL"
        ) from None


def check_settings(settings: Settings, warn: Callable[[str], None]) -> None:
    """Refuse to start without the tokens a connection mode needs; warn about links Slack users cannot open."""
    if settings.slack_bot_token is None:
        raise SlackSetupError("SLACK_BOT_TOKEN is not set: export the bot token (xoxb-...) from your Slack app's OAuth page")
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        raise SlackSetupError(
            "set SLACK_APP_TOKEN (xapp-..., Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) from your Slack app's settings"
        )
    if settings.public_url is None:
        warn("QA_PUBLIC_URL is not set: sources link only to articles' own URLs; set it to where `qa serve` is reachable")
    elif urlparse(settings.public_url).hostname in LOCAL_HOSTS:
        warn(
            f"QA_PUBLIC_URL is {settings.public_url}: Slack users cannot open links to localhost; "
            "set it to the public address of `qa serve`"
        )


def connect(pipeline: QAPipeline, settings: Settings) -> SlackBot:
    """The bot, once Slack has accepted its token (bolt checks it with auth.test)."""
    try:
        return SlackBot(pipeline, settings)
    except (BoltError, SlackApiError) as exc:
        raise SlackSetupError(f"Slack did not accept SLACK_BOT_TOKEN ({exc}); check the token") from None
    except OSError as exc:  # includes URLError: Slack's Web API could not be reached
        raise SlackSetupError(
            f"cannot reach the Slack Web API at {settings.slack_api_url} ({exc}); check QA_SLACK_API_URL and the network"
        ) from None


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

"""The Slack bot: slack-bolt listeners that hand questions to `QAPipeline` and post Block Kit replies.

Slack expects an acknowledgement within 3 seconds, so every listener acknowledges first and
answers afterwards (bolt runs event listeners after the HTTP 200; commands and buttons call
`ack()` before any work). A thread is one conversation. Retried deliveries, the bot's own
messages and other bots are ignored, so nothing is answered twice and no two bots loop. Every
handler tells the user when something went wrong (a `QAError`'s message, or a generic line for
anything unexpected, which is logged), so no question goes unanswered in silence.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, ServerErrorRetryHandler

from bot.blocks import HELPFUL, NOT_HELPFUL, answer_blocks, clean_question, message_blocks
from qa.config import Settings
from qa.errors import QAError
from qa.links import LinkBuilder
from qa.pipeline import QAPipeline
from qa.schema import Answer

log = logging.getLogger("qa.slack")
POST_RETRIES = 3
PRIVATE_PREFIXES = ("private ", "--private ", "-p ", "me ")
EMPTY_HELP = 'Ask me a question about the indexed news, e.g. "When did Iran host Shoigu?"'
UNEXPECTED = "Sorry, something went wrong while answering; it has been logged. Please try again later."
FEEDBACK_FAILED = "Sorry, your feedback could not be recorded."


def error_text(exc: Exception) -> str:
    """What the user is told: a QAError's own one-line message, else a generic apology (and a log entry)."""
    if isinstance(exc, QAError):
        return f"Sorry, I can't answer that: {exc}"
    log.exception("unexpected error while answering")
    return UNEXPECTED


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """Retry every 5xx, not only 500 and 503."""

    def _can_retry(
        self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None, error: Exception | None = None
    ) -> bool:
        return response is not None and response.status_code >= 500


class FeedbackLog:
    """Helpful / not-helpful votes, one JSON object a line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, **fields: object) -> None:
        row = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **fields}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def make_client(token: str, api_url: str) -> WebClient:
    base = api_url if api_url.endswith("/") else api_url + "/"
    return WebClient(
        token=token,
        base_url=base,
        timeout=10,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=POST_RETRIES),
            AnyServerErrorRetryHandler(max_retry_count=POST_RETRIES),
            ConnectionErrorRetryHandler(max_retry_count=POST_RETRIES),
        ],
    )


class SlackBot:
    def __init__(self, pipeline: QAPipeline, settings: Settings) -> None:
        if settings.slack_bot_token is None:
            raise ValueError("SlackBot needs settings.slack_bot_token")
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
        self.pipeline = pipeline
        self.conversations = pipeline.conversations
        self.links = LinkBuilder(settings.public_url)  # Slack users can only open a public viewer
        # Event ids and message keys already handled, in the shared state: a retried delivery, or one
        # event sent to two replicas, is answered once (set-if-absent with a TTL on Redis).
        self.seen = pipeline.state.dedupe("slack-event")
        self.feedback = FeedbackLog(settings.feedback_log)
        self.client = make_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        self.app = App(
            client=self.client,
            signing_secret=secret,
            request_verification_enabled=secret is not None,
            ignoring_self_events_enabled=True,
            # bolt's own loggers otherwise copy the root level; under this one `qa slack` can quiet them
            logger=logging.getLogger("slack_bolt"),
        )
        self._register()

    # ---- listeners --------------------------------------------------------------------------
    def _register(self) -> None:
        self.app.event("app_mention")(self.on_mention)
        self.app.event("message")(self.on_message)
        self.app.command("/ask")(self.on_command)
        self.app.action(HELPFUL)(self.on_feedback)
        self.app.action(NOT_HELPFUL)(self.on_feedback)

    @staticmethod
    def _from_bot(event: dict) -> bool:
        return bool(
            event.get("bot_id")
            or event.get("bot_profile")
            or event.get("subtype") in {"bot_message", "message_changed", "message_deleted"}
        )

    def on_mention(self, event: dict, body: dict) -> None:
        if self._from_bot(event) or not self._first_time(body, event):
            return
        thread = event.get("thread_ts") or event["ts"]
        self.reply(
            event.get("text", ""), channel=event["channel"], thread_ts=thread, conversation_key=f"{event['channel']}:{thread}"
        )

    def on_message(self, event: dict, body: dict, context: dict) -> None:
        if self._from_bot(event) or event.get("subtype"):
            return
        bot_user = context.get("bot_user_id")
        if bot_user and f"<@{bot_user}>" in event.get("text", ""):
            return  # the app_mention event answers it
        channel, thread = event["channel"], event.get("thread_ts")
        is_dm = event.get("channel_type") == "im"
        key = f"{channel}:{thread}" if thread else channel
        if not is_dm and not (thread and self._answers_in(key)):
            return  # in channels, only follow-ups in threads the bot already answers in
        if not self._first_time(body, event):
            return
        self.reply(event.get("text", ""), channel=channel, thread_ts=thread, conversation_key=key)

    def on_command(self, ack: Ack, command: dict, respond: Respond) -> None:
        ack()
        text = command.get("text", "").strip()
        private = text.lower().startswith(PRIVATE_PREFIXES)
        if private:
            text = text.split(" ", 1)[1] if " " in text else ""
        question = clean_question(text)
        if not question:
            respond(text=EMPTY_HELP, response_type="ephemeral")
            return
        try:
            fallback, blocks = answer_blocks(self._ask(question, None))
        except Exception as exc:  # noqa: BLE001 - the user is told; unexpected ones are logged
            fallback, blocks = message_blocks(error_text(exc))
            respond(text=fallback, blocks=blocks, response_type="ephemeral")
            return
        if private:
            respond(text=fallback, blocks=blocks, response_type="ephemeral")
            return
        if not self.post(channel=command["channel_id"], text=fallback, blocks=blocks):
            respond(text=fallback, blocks=blocks, response_type="in_channel")  # e.g. the bot is not in that channel

    def on_feedback(self, ack: Ack, body: dict, action: dict) -> None:
        ack()
        try:
            question = json.loads(action.get("value") or "{}").get("q")
        except (ValueError, AttributeError):
            question = None
        message = body.get("message") or {}
        answer_text = next((b.get("text", {}).get("text") for b in message.get("blocks", []) if b.get("type") == "section"), None)
        user = (body.get("user") or {}).get("id")
        channel = (body.get("channel") or {}).get("id")
        vote = "helpful" if action.get("action_id") == HELPFUL else "not_helpful"
        try:
            self.feedback.record(
                question=question, answer=answer_text, vote=vote, user=user, channel=channel, message_ts=message.get("ts")
            )
            reply = "Thanks, your feedback was recorded."
        except OSError as exc:
            log.error("could not record feedback in %s: %s", self.feedback.path, exc)
            reply = FEEDBACK_FAILED
        if channel and user:
            try:
                self.client.chat_postEphemeral(channel=channel, user=user, text=reply, thread_ts=message.get("thread_ts"))
            except SlackApiError as exc:
                log.warning("could not acknowledge feedback: %s", exc.response.get("error"))

    # ---- answering -------------------------------------------------------------------------
    @staticmethod
    def _message_key(event: dict) -> str | None:
        return f"{event.get('channel')}:{event.get('ts')}" if event.get("ts") else None

    def _answers_in(self, thread_key: str) -> bool:
        try:
            return self.conversations.has(thread_key)
        except QAError as exc:  # cannot tell whether the thread is ours: stay out of it, loudly
            log.error("could not look up the conversation of thread %s: %s", thread_key, exc)
            return False

    def _first_time(self, body: dict, event: dict) -> bool:
        """Whether this delivery is new; if the shared state cannot tell, answer (twice beats never)."""
        try:
            return self.seen.first_time(body.get("event_id"), self._message_key(event))
        except QAError as exc:
            log.error("could not check for a repeated Slack event, answering it anyway: %s", exc)
            return True

    def _ask(self, question: str, conversation_key: str | None) -> Answer:
        if conversation_key is not None:
            self.conversations.get_or_start(conversation_key)  # a thread (or DM) is its own conversation
        return self.links.answer(self.pipeline.ask(question, conversation_id=conversation_key))

    def reply(self, raw_text: str, channel: str, thread_ts: str | None, conversation_key: str) -> None:
        """Answer a mention or a message where it was asked; failures are told to the user there too."""
        question = clean_question(raw_text)
        if not question:
            self.post(channel=channel, thread_ts=thread_ts, text=EMPTY_HELP)
            return
        try:
            text, blocks = answer_blocks(self._ask(question, conversation_key))
        except Exception as exc:  # noqa: BLE001 - the user is told; unexpected ones are logged
            text, blocks = message_blocks(error_text(exc))
        self.post(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)

    def post(self, channel: str, text: str, thread_ts: str | None = None, blocks: list[dict] | None = None) -> bool:
        """chat.postMessage; rate limits and server errors are retried by the client, the rest logged."""
        try:
            self.client.chat_postMessage(channel=channel, text=text, thread_ts=thread_ts, blocks=blocks)
            return True
        except SlackApiError as exc:
            log.error("chat.postMessage failed: %s", exc.response.get("error") or exc.response.status_code)
        except Exception as exc:  # network trouble after retries: keep serving
            log.error("chat.postMessage failed: %s", exc)
        return False

"""The Slack bot: slack-bolt listeners that hand questions to `QAPipeline` and post Block Kit replies.

Slack expects an acknowledgement within 3 seconds, so every listener acknowledges first and
answers afterwards (bolt runs event listeners after the HTTP 200; commands and buttons call
`ack()` before any work). A thread is one conversation. Retried deliveries, the bot's own
messages and other bots are ignored, so nothing is answered twice and no two bots loop.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, ServerErrorRetryHandler

from bot.blocks import HELPFUL, NOT_HELPFUL, answer_blocks, clean_question, truncate
from qa.conversation import ConversationStore
from qa.expiring import ExpiringMap
from qa.pipeline import QAPipeline, QuestionError

log = logging.getLogger("qa.slack")
POST_RETRIES = 3
PRIVATE_PREFIXES = ("private ", "--private ", "-p ", "me ")
EMPTY_HELP = 'Ask me a question about the indexed news, e.g. "When did Iran host Shoigu?"'


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """Retry every 5xx, not only 500 and 503."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
        return response is not None and response.status_code >= 500


class SeenEvents:
    """Ids of events already handled, bounded in number and age, to drop Slack's retried deliveries."""

    def __init__(self, size: int = 10000, ttl_s: float = 3600.0) -> None:
        self._seen: ExpiringMap[bool] = ExpiringMap(size, ttl_s)

    def first_time(self, *keys: str | None) -> bool:
        """True only the first time any of these keys is seen."""
        return self._seen.add_if_all_absent([k for k in keys if k], True)


class FeedbackLog:
    """Helpful / not-helpful votes, one JSON object a line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, **fields: object) -> None:
        row = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), **fields}
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
    def __init__(
        self,
        pipeline: QAPipeline,
        bot_token: str,
        signing_secret: str | None,
        api_url: str,
        feedback_log: Path,
        conversations: ConversationStore | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.conversations = conversations or ConversationStore()
        self.seen = SeenEvents()
        self.feedback = FeedbackLog(feedback_log)
        self.client = make_client(bot_token, api_url)
        self.app = App(
            client=self.client,
            signing_secret=signing_secret,
            request_verification_enabled=signing_secret is not None,
            ignoring_self_events_enabled=True,
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
        return bool(event.get("bot_id") or event.get("bot_profile") or event.get("subtype") in {"bot_message", "message_changed", "message_deleted"})

    def on_mention(self, event: dict, body: dict) -> None:
        if self._from_bot(event) or not self.seen.first_time(body.get("event_id"), self._message_key(event)):
            return
        thread = event.get("thread_ts") or event["ts"]
        self.reply(event.get("text", ""), channel=event["channel"], thread_ts=thread, conversation_key=f"{event['channel']}:{thread}")

    def on_message(self, event: dict, body: dict, context: dict) -> None:
        if self._from_bot(event) or event.get("subtype"):
            return
        bot_user = context.get("bot_user_id")
        if bot_user and f"<@{bot_user}>" in event.get("text", ""):
            return  # the app_mention event answers it
        channel, thread = event["channel"], event.get("thread_ts")
        is_dm = event.get("channel_type") == "im"
        key = f"{channel}:{thread}" if thread else channel
        if not is_dm and not (thread and self.conversations.has(key)):
            return  # in channels, only follow-ups in threads the bot already answers in
        if not self.seen.first_time(body.get("event_id"), self._message_key(event)):
            return
        self.reply(event.get("text", ""), channel=channel, thread_ts=thread, conversation_key=key)

    def on_command(self, ack, command: dict, respond) -> None:  # type: ignore[no-untyped-def]
        ack()
        text = command.get("text", "").strip()
        private = text.lower().startswith(PRIVATE_PREFIXES)
        if private:
            text = text.split(" ", 1)[1] if " " in text else ""
        question = clean_question(text)
        if not question:
            respond(text=EMPTY_HELP, response_type="ephemeral")
            return
        answer = self._ask(question, None)
        fallback, blocks = answer_blocks(answer)
        if private:
            respond(text=fallback, blocks=blocks, response_type="ephemeral")
            return
        if not self.post(channel=command["channel_id"], text=fallback, blocks=blocks):
            respond(text=fallback, blocks=blocks, response_type="in_channel")  # e.g. the bot is not in that channel

    def on_feedback(self, ack, body: dict, action: dict) -> None:  # type: ignore[no-untyped-def]
        ack()
        try:
            question = json.loads(action.get("value") or "{}").get("q")
        except ValueError:
            question = None
        message = body.get("message") or {}
        answer_text = next((b.get("text", {}).get("text") for b in message.get("blocks", []) if b.get("type") == "section"), None)
        user = (body.get("user") or {}).get("id")
        channel = (body.get("channel") or {}).get("id")
        vote = "helpful" if action.get("action_id") == HELPFUL else "not_helpful"
        self.feedback.record(question=question, answer=answer_text, vote=vote, user=user, channel=channel, message_ts=message.get("ts"))
        if channel and user:
            try:
                self.client.chat_postEphemeral(channel=channel, user=user, text="Thanks, your feedback was recorded.",
                                               thread_ts=message.get("thread_ts"))
            except SlackApiError as exc:
                log.warning("could not acknowledge feedback: %s", exc.response.get("error"))

    # ---- answering -------------------------------------------------------------------------
    @staticmethod
    def _message_key(event: dict) -> str | None:
        return f"{event.get('channel')}:{event.get('ts')}" if event.get("ts") else None

    def _ask(self, question: str, conversation_key: str | None):  # type: ignore[no-untyped-def]
        conversation = self.conversations.get(conversation_key)[1] if conversation_key else None
        return self.pipeline.ask(question, conversation=conversation)

    def reply(self, raw_text: str, channel: str, thread_ts: str | None, conversation_key: str) -> None:
        question = clean_question(raw_text)
        if not question:
            self.post(channel=channel, thread_ts=thread_ts, text=EMPTY_HELP)
            return
        try:
            answer = self._ask(question, conversation_key)
        except QuestionError as exc:
            self.post(channel=channel, thread_ts=thread_ts, text=truncate(str(exc), 500))
            return
        text, blocks = answer_blocks(answer)
        self.post(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)

    def post(self, **kwargs: object) -> bool:
        """chat.postMessage; rate limits and server errors are retried by the client, the rest logged."""
        try:
            self.client.chat_postMessage(**{k: v for k, v in kwargs.items() if v is not None})
            return True
        except SlackApiError as exc:
            log.error("chat.postMessage failed: %s", exc.response.get("error") or exc.response.status_code)
        except Exception as exc:  # network trouble after retries: keep serving
            log.error("chat.postMessage failed: %s", exc)
        return False

"""The Slack bot in HTTP mode, driven in process by signed Slack payloads, talking to a fake Slack Web API.

One test runs the real `qa slack` process (startup checks and warnings are about the process).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from fake_slack import SIGNING_SECRET, FakeSlack, ListenerPool, event_body, signed_headers
from fastapi.testclient import TestClient
from helpers import ROOT, SHOIGU, Server, run_qa
from processes import wait_until
from pydantic import SecretStr

from bot.app import SlackBot
from bot.blocks import SECTION_LIMIT, answer_blocks, clean_question
from bot.server import http_app
from qa.config import Settings
from qa.schema import Answer, Citation, Source


@pytest.fixture(scope="module")
def fake_slack():
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def feedback_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feedback") / "votes.jsonl"


class InProcessBot:
    """The bot's ASGI app under httpx in this process, with what the bot logged."""

    def __init__(self, bot: SlackBot) -> None:
        self.bot = bot
        self.http = TestClient(http_app(bot), base_url="http://slack-bot")
        self.listeners = ListenerPool.install(bot.app)  # to wait for replies that must not come
        self.records: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: self.records.append(record.getMessage())  # type: ignore[method-assign]
        logging.getLogger("qa.slack").addHandler(handler)

    def post(self, path: str, **kwargs):
        return self.http.post(path, **kwargs)

    def output(self) -> str:
        return "\n".join(self.records)


def bot_settings(pipeline, fake_slack, feedback_log) -> Settings:
    return pipeline.settings.model_copy(
        update={
            "slack_bot_token": SecretStr("xoxb-test"),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_app_token": None,
            "slack_api_url": fake_slack.url + "/api/",
            "feedback_log": feedback_log,
            "public_url": "https://qa.example.com",
        }
    )


@pytest.fixture(scope="module")
def bot(pipeline, fake_slack, feedback_log):
    yield InProcessBot(SlackBot(pipeline, bot_settings(pipeline, fake_slack, feedback_log)))


def slash_command(fake_slack, text: str, channel: str, response: str, trigger_id: str = "t1") -> dict:
    """The form Slack posts when U1 types `/ask text` in `channel`; the reply goes to the fake's `response`."""
    return {
        "command": "/ask",
        "text": text,
        "user_id": "U1",
        "channel_id": channel,
        "team_id": "T1",
        "response_url": fake_slack.url + "/response/" + response,
        "trigger_id": trigger_id,
    }


def button_click(fake_slack, action: dict, message: dict, response: str, trigger_id: str) -> dict:
    """The form Slack posts when user U9 clicks a button of the bot's `message` in channel C4."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U9"},
        "channel": {"id": "C4"},
        "team": {"id": "T1"},
        "response_url": fake_slack.url + "/response/" + response,
        "trigger_id": trigger_id,
        "api_app_id": "A1",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": "C4"},
        "message": message,
        "actions": [{**action, "type": "button", "block_id": "feedback"}],
    }
    return {"payload": json.dumps(payload)}


def mention_event(text: str, ts: str, channel: str, **fields: str) -> dict:
    """An app_mention of the bot (by U1 unless `fields` say otherwise)."""
    return {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}", "ts": ts, "channel": channel, **fields}


def send_event(bot, event: dict, event_id: str, headers: dict | None = None, **sign) -> httpx.Response:
    body = event_body(event, event_id)
    started = time.monotonic()
    response = bot.post(
        "/slack/events", content=body, headers={**signed_headers(body, "application/json", **sign), **(headers or {})}
    )
    assert time.monotonic() - started < 3, "Slack needs an acknowledgement within 3 seconds"
    return response


def send_form(bot, fields: dict) -> httpx.Response:
    body = urlencode(fields)
    started = time.monotonic()
    response = bot.post("/slack/events", content=body, headers=signed_headers(body, "application/x-www-form-urlencoded"))
    assert time.monotonic() - started < 3
    return response


def new_posts(fake, before: int, count: int = 1, method: str = "chat.postMessage") -> list[dict]:
    return fake.wait_for(method, before + count)[before:]


def all_text(post: dict) -> str:
    return json.dumps(post.get("blocks", [])) + post.get("text", "")


def test_mention_is_answered_in_a_thread_with_blocks_and_links(bot, fake_slack):
    before = len(fake_slack.posts())
    event = mention_event(SHOIGU, "1700000001.000100", "C1")
    assert send_event(bot, event, "Ev-mention").status_code == 200
    [post] = new_posts(fake_slack, before)
    assert post["channel"] == "C1" and post["thread_ts"] == "1700000001.000100"
    blocks = post["blocks"]
    assert blocks[0]["type"] == "section" and "September" in blocks[0]["text"]["text"] and "[1]" in blocks[0]["text"]["text"]
    sources = blocks[1]["text"]["text"]
    assert "<https://qa.example.com/sources/000_41c7a4f655479979#c" in sources and "Associated Press" in sources
    assert "localhost" not in json.dumps(blocks)
    assert blocks[-1]["type"] == "actions"


def test_markup_is_stripped_before_asking(bot, fake_slack):
    before = len(fake_slack.posts())
    text = "<@UBOT> *When* did <#C1|general> Iran host _Shoigu_? <!here>"
    send_event(bot, {"type": "app_mention", "user": "U1", "text": text, "ts": "1700000002.000100", "channel": "C1"}, "Ev-markup")
    [post] = new_posts(fake_slack, before)
    assert "September" in post["blocks"][0]["text"]["text"]


def test_direct_message_is_answered_in_the_dm(bot, fake_slack):
    before = len(fake_slack.posts())
    event = {
        "type": "message",
        "channel_type": "im",
        "user": "U1",
        "text": "Who is the spokesman for Iran's foreign ministry?",
        "ts": "1700000003.000100",
        "channel": "D1",
    }
    send_event(bot, event, "Ev-dm")
    [post] = new_posts(fake_slack, before)
    assert post["channel"] == "D1" and "thread_ts" not in post
    assert "Nasser Kanani" in post["blocks"][0]["text"]["text"]


def test_declined_answer_says_so_plainly(bot, fake_slack):
    before = len(fake_slack.posts())
    send_event(bot, mention_event("Who won the 2022 FIFA World Cup?", "1700000004.000100", "C1"), "Ev-decline")
    [post] = new_posts(fake_slack, before)
    assert "couldn't find an answer" in post["text"] and "rephras" in post["text"]


def test_thread_follow_up_uses_the_thread_context(bot, fake_slack):
    before = len(fake_slack.posts())
    root = "1700000005.000100"
    send_event(bot, mention_event("Which fighter jets did Iran finalize a deal to buy from Russia?", root, "C2"), "Ev-thread-1")
    new_posts(fake_slack, before)
    follow = {
        "type": "message",
        "channel_type": "channel",
        "user": "U1",
        "text": "When was that?",
        "ts": "1700000006.000100",
        "thread_ts": root,
        "channel": "C2",
    }
    send_event(bot, follow, "Ev-thread-2")
    posts = new_posts(fake_slack, before, 2)
    assert posts[1]["thread_ts"] == root
    text = posts[1]["blocks"][0]["text"]["text"]
    assert "last month" in text or "earlier this year" in text
    # A channel message outside any thread the bot is in gets no reply.
    send_event(
        bot,
        {
            "type": "message",
            "channel_type": "channel",
            "user": "U1",
            "text": "When was that?",
            "ts": "1700000007.000100",
            "channel": "C2",
        },
        "Ev-thread-3",
    )
    bot.listeners.wait_idle()
    assert len(fake_slack.posts()) == before + 2


def test_slash_command_in_channel_and_privately(bot, fake_slack):
    before = len(fake_slack.posts())
    fields = slash_command(fake_slack, SHOIGU, "C3", "cmd-public")
    assert send_form(bot, fields).status_code == 200
    [post] = new_posts(fake_slack, before)
    assert post["channel"] == "C3" and "September" in post["blocks"][0]["text"]["text"]
    private = {**fields, "text": f"private {SHOIGU}", "response_url": fake_slack.url + "/response/cmd-private"}
    send_form(bot, private)
    [reply] = fake_slack.wait_for("cmd-private", 1)
    assert reply["response_type"] == "ephemeral" and "September" in json.dumps(reply["blocks"])
    assert len(fake_slack.posts()) == before + 1


def test_feedback_button_is_recorded_and_acknowledged(bot, fake_slack, feedback_log):
    before = len(fake_slack.posts())
    send_event(bot, mention_event(SHOIGU, "1700000008.000100", "C4"), "Ev-fb")
    [post] = new_posts(fake_slack, before)
    button = post["blocks"][-1]["elements"][0]
    click = button_click(
        fake_slack,
        {"action_id": button["action_id"], "value": button["value"]},
        {"ts": "1.2", "thread_ts": "1700000008.000100", "blocks": post["blocks"]},
        response="fb",
        trigger_id="t2",
    )
    ephemeral_before = len(fake_slack.posts("chat.postEphemeral"))
    assert send_form(bot, click).status_code == 200
    fake_slack.wait_for("chat.postEphemeral", ephemeral_before + 1)
    rows = [json.loads(line) for line in feedback_log.read_text().splitlines()]
    assert rows[-1]["vote"] == "helpful" and rows[-1]["user"] == "U9" and rows[-1]["question"] == SHOIGU
    assert "September" in rows[-1]["answer"] and rows[-1]["time"]


def test_retried_event_is_not_answered_twice(bot, fake_slack):
    before = len(fake_slack.posts())
    event = mention_event(SHOIGU, "1700000009.000100", "C5")
    send_event(bot, event, "Ev-retry")
    new_posts(fake_slack, before)
    retry = send_event(bot, event, "Ev-retry", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200
    bot.listeners.wait_idle()
    assert len(fake_slack.posts()) == before + 1


def test_own_and_other_bots_messages_are_ignored(bot, fake_slack):
    before = len(fake_slack.posts())
    send_event(
        bot,
        {
            "type": "message",
            "channel_type": "im",
            "user": "UBOT",
            "bot_id": "BBOT",
            "text": SHOIGU,
            "ts": "1700000010.000100",
            "channel": "D1",
        },
        "Ev-self",
    )
    send_event(
        bot,
        {
            "type": "message",
            "channel_type": "im",
            "subtype": "bot_message",
            "bot_id": "BOTHER",
            "text": SHOIGU,
            "ts": "1700000011.000100",
            "channel": "D2",
        },
        "Ev-other-bot",
    )
    send_event(bot, mention_event(SHOIGU, "1700000012.000100", "C1", user="U7", bot_id="BOTHER"), "Ev-bot-mention")
    bot.listeners.wait_idle()
    assert len(fake_slack.posts()) == before


@pytest.mark.parametrize("sign", [{"secret": "forged"}, {"timestamp": int(time.time()) - 6 * 60}], ids=["forged", "stale"])
def test_bad_signatures_are_rejected(bot, fake_slack, sign):
    before = len(fake_slack.attempts())
    event = mention_event(SHOIGU, "1700000013.000100", "C1")
    response = send_event(bot, event, f"Ev-bad-{len(sign)}-{list(sign)[0]}", **sign)
    assert response.status_code == 401
    unsigned = bot.post(
        "/slack/events", content=json.dumps({"type": "event_callback"}), headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    bot.listeners.wait_idle()
    assert len(fake_slack.attempts()) == before


def test_rate_limit_is_retried_and_permanent_errors_do_not_stop_the_bot(bot, fake_slack):
    before = len(fake_slack.posts())
    attempts_before = len(fake_slack.attempts())
    fake_slack.rate_limit_next = 1
    send_event(bot, mention_event(SHOIGU, "1700000014.000100", "C6"), "Ev-429")
    [post] = new_posts(fake_slack, before)
    statuses = [status for _, status in fake_slack.attempts()[attempts_before:]]
    assert statuses == [429, 200] and post["channel"] == "C6"

    fake_slack.server_errors_next = 1
    send_event(bot, mention_event(SHOIGU, "1700000015.000100", "C6"), "Ev-503")
    new_posts(fake_slack, before, 2)

    fake_slack.failing_channels.add("CGONE")
    send_event(bot, mention_event(SHOIGU, "1700000016.000100", "CGONE"), "Ev-gone")
    send_event(bot, mention_event(SHOIGU, "1700000017.000100", "C7"), "Ev-after")
    posts = new_posts(fake_slack, before, 3)
    assert posts[-1]["channel"] == "C7"
    # events are handled on Bolt's worker threads: the failed post's log line may come after C7's post
    wait_until(lambda: "channel_not_found" in bot.output(), 10, "the failed post's log line")


def test_long_answers_are_cut_to_block_limits():
    long_text = ("word " * 2000).strip()
    source = Source(doc_id="d", title="T|<x>" * 100, url="http://localhost:8000/sources/d#c0-5", passage="p", start=0, end=5)
    answer = Answer(
        question="q" * 5000,
        answer=long_text + " [1]",
        answered=True,
        citations=[
            Citation(n=1, doc_id="d", title="T", url=source.url, passage="p", start=0, end=5, score=1.0, sources=[source] * 40)
        ],
    )
    text, blocks = answer_blocks(answer)
    assert len(text) <= 3000
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_LIMIT
            assert block["text"]["text"].endswith("…")
        else:
            assert all(len(e["value"]) <= 2000 for e in block["elements"])


def test_clean_question():
    assert clean_question("<@U1> hi <#C1|general> see <https://x.org|this> *bold* &amp; `code`") == "hi see this bold & code"


def test_missing_token_is_a_clear_error(index_dir):
    result = run_qa(
        "slack", "--index-dir", str(index_dir), env={"SLACK_BOT_TOKEN": "", "SLACK_APP_TOKEN": "", "SLACK_SIGNING_SECRET": ""}
    )
    assert result.returncode == 1 and "SLACK_BOT_TOKEN" in result.stderr
    result = run_qa(
        "slack",
        "--index-dir",
        str(index_dir),
        env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "", "SLACK_SIGNING_SECRET": ""},
    )
    assert result.returncode == 1 and "SLACK_SIGNING_SECRET" in result.stderr


def test_slack_tokens_are_settings_and_stay_secret(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "  ")
    settings = Settings()
    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == "xoxb-very-secret"
    assert settings.slack_signing_secret is None  # blank is unset
    assert "xoxb-very-secret" not in repr(settings) and "xoxb-very-secret" not in settings.model_dump_json()


# ---- every handler tells the user what went wrong ----------------------------------------------

LONG = "Why " + "really " * 400 + "?"  # over 2,000 characters


def test_slash_command_with_an_unusable_question_gets_a_reply(bot, fake_slack):
    assert send_form(bot, slash_command(fake_slack, LONG, "C3", "cmd-long")).status_code == 200
    [reply] = fake_slack.wait_for("cmd-long", 1)
    assert reply["response_type"] == "ephemeral" and "2000" in reply["text"]


def test_mention_and_dm_with_an_unusable_question_get_a_reply(bot, fake_slack):
    before = len(fake_slack.posts())
    send_event(bot, mention_event(LONG, "1700000020.000100", "C8"), "Ev-long")
    send_event(
        bot,
        {"type": "message", "channel_type": "im", "user": "U1", "text": LONG, "ts": "1700000021.000100", "channel": "D8"},
        "Ev-long-dm",
    )
    posts = new_posts(fake_slack, before, 2)
    assert sorted(p["channel"] for p in posts) == ["C8", "D8"]
    assert all("can't answer that" in p["text"] and "2000" in p["text"] for p in posts)


def test_an_unexpected_failure_is_reported_not_swallowed(bot, fake_slack, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bot.bot.pipeline, "ask", broken)
    before = len(fake_slack.posts())
    send_event(bot, mention_event(SHOIGU, "1700000022.000100", "C9"), "Ev-boom")
    [post] = new_posts(fake_slack, before)
    assert "something went wrong" in post["text"] and "disk on fire" not in post["text"]
    send_form(bot, slash_command(fake_slack, SHOIGU, "C9", "cmd-boom", trigger_id="t3"))
    [reply] = fake_slack.wait_for("cmd-boom", 1)
    assert "something went wrong" in reply["text"]


def test_feedback_that_cannot_be_recorded_is_told(bot, fake_slack, tmp_path, monkeypatch):
    monkeypatch.setattr(bot.bot.feedback, "path", tmp_path)  # a directory: appending to it fails
    click = button_click(
        fake_slack, {"action_id": "feedback_helpful", "value": "{}"}, {"ts": "1.3", "blocks": []}, response="fb2", trigger_id="t4"
    )
    before = len(fake_slack.posts("chat.postEphemeral"))
    send_form(bot, click)
    ephemeral = fake_slack.wait_for("chat.postEphemeral", before + 1)[before:]
    assert ephemeral and "could not be recorded" in ephemeral[0]["text"]


def test_qa_slack_process_answers_and_warns_about_localhost_links(index_dir, fake_slack, feedback_log):
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_APP_TOKEN": "",
        "QA_SLACK_API_URL": fake_slack.url + "/api/",
        "QA_FEEDBACK_LOG": str(feedback_log),
        "QA_PUBLIC_URL": "http://localhost:8000",
    }
    srv = Server(["slack", "--index-dir", str(index_dir)], env=env)
    try:
        before = len(fake_slack.posts())
        body = event_body(
            mention_event(SHOIGU, "1700000030.000100", "CP"),
            "Ev-process",
        )
        response = httpx.post(
            srv.url + "/slack/events", content=body, headers=signed_headers(body, "application/json"), timeout=10
        )
        assert response.status_code == 200
        [post] = new_posts(fake_slack, before)
        assert post["channel"] == "CP" and "September" in post["blocks"][0]["text"]["text"]
        assert "QA_PUBLIC_URL is http://localhost:8000" in srv.output()
    finally:
        srv.stop()


def test_manifest_declares_what_the_bot_uses():
    manifest = yaml.safe_load((ROOT / "bot" / "manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history", "channels:history"} <= scopes
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "message.channels"} <= events
    assert manifest["features"]["slash_commands"][0]["command"] == "/ask"
    assert manifest["settings"]["interactivity"]["is_enabled"] is True

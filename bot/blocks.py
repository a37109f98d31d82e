"""Slack text in, Block Kit out: pure functions between Slack's formats and the answer object."""

from __future__ import annotations

import html
import json
import re

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, MarkdownTextObject, SectionBlock

from qa.schema import Answer

SECTION_LIMIT = 3000  # characters in a section's text
BUTTON_VALUE_LIMIT = 2000
FALLBACK_TEXT_LIMIT = 3000
DECLINED_TEXT = (
    "I couldn't find an answer to that in the indexed articles. "
    "Try rephrasing the question, or ask about something the articles cover."
)
HELPFUL, NOT_HELPFUL = "feedback_helpful", "feedback_not_helpful"


def clean_question(text: str) -> str:
    """The question without mentions, channel references, links markup or formatting."""
    text = re.sub(r"<[@!](?:[^>|]*)(?:\|[^>]*)?>", " ", text)  # <@U123>, <!here>, <!subteam^S1|@team>
    text = re.sub(r"<#[^>|]*(?:\|[^>]*)?>", " ", text)  # <#C123|general>
    text = re.sub(r"<([^>|]+)\|([^>]+)>", r"\2", text)  # <https://x|label> → label
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"(?<!\w)[*_~`]+|[*_~`]+(?!\w)", "", text)  # *bold* _italic_ ~strike~ `code`
    return " ".join(html.unescape(text).split())


def escape(text: str) -> str:
    """Slack mrkdwn escaping: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut at a word boundary, marking the cut, so the text fits a Block Kit limit."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[-40:]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip() + "…"


def _link(url: str | None, title: str) -> str:
    label = escape(title)
    return f"<{url}|{label.replace('|', '¦')}>" if url else label


def source_lines(answer: Answer) -> list[str]:
    lines = []
    for citation in answer.citations:
        for i, source in enumerate(citation.sources):
            meta = ", ".join(x for x in (source.publisher, source.published) if x)
            prefix = f"*[{citation.n}]*" if i == 0 else "      also reported in"
            lines.append(f"{prefix} {_link(source.url, truncate(source.title, 150))}" + (f" — {escape(meta)}" if meta else ""))
    return lines


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)))


def message_blocks(text: str) -> tuple[str, list[dict]]:
    """(notification text, blocks) for a plain message: a decline, an error, a hint."""
    return truncate(text, FALLBACK_TEXT_LIMIT), [_section(escape(text)).to_dict()]


def answer_blocks(answer: Answer) -> tuple[str, list[dict]]:
    """(notification text, blocks) for an answer or a plain decline."""
    if not answer.answered or not answer.answer:
        return message_blocks(DECLINED_TEXT)
    text = escape(answer.answer)
    if answer.headline and answer.answer.startswith(f"{answer.headline} — "):
        # The direct answer in bold, then its evidence: "*September* — Kirby highlighted ..."
        text = f"*{escape(answer.headline)}* — " + escape(answer.answer[len(answer.headline) + 3 :])
    blocks: list[Block] = [_section(text)]
    sources = source_lines(answer)
    if sources:
        blocks.append(_section("*Sources*\n" + "\n".join(sources)))
    value = json.dumps({"q": truncate(answer.question, 900)})[:BUTTON_VALUE_LIMIT]
    blocks.append(
        ActionsBlock(
            block_id="feedback",
            elements=[
                ButtonElement(action_id=HELPFUL, text="Helpful", value=value),
                ButtonElement(action_id=NOT_HELPFUL, text="Not helpful", value=value),
            ],
        )
    )
    return truncate(answer.answer, FALLBACK_TEXT_LIMIT), [block.to_dict() for block in blocks]

"""The chat page and source viewer in headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (make test installs it)")


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def test_follow_up_in_the_chat_page_uses_the_conversation(browser, server):
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(server.url + "/")
    page.fill("#question", "Which fighter jets did Iran finalize a deal to buy from Russia?")
    page.click("#ask")
    page.locator(".turn.answer").nth(0).wait_for(timeout=20000)
    assert "Su-35" in page.locator(".turn.answer").nth(0).inner_text()
    page.fill("#question", "When was that?")
    page.click("#ask")
    page.locator(".turn.answer").nth(1).wait_for(timeout=20000)
    follow = page.locator(".turn.answer").nth(1)
    assert "declined" not in (follow.get_attribute("class") or "")
    text = follow.locator(".answer-text").inner_text()
    assert "last month" in text or "earlier this year" in text
    page.close()


def test_ask_follow_citation_and_see_the_highlight(browser, server):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(server.url + "/")
    page.fill("#question", "When did Iran host Shoigu?")
    page.click("#ask")
    page.wait_for_selector(".turn.answer .answer-text", timeout=20000)
    answer = page.inner_text(".turn.answer .answer-text")
    assert "September" in answer and "[1]" in answer
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)

    # The citation opens the source viewer with the passage highlighted.
    first_citation = page.locator(".turn.answer").first.locator("a.citation").first
    href = first_citation.get_attribute("href")
    assert "/sources/" in href and "#c" in href
    assert href.startswith(server.url + "/sources/")
    page.goto(href)
    mark = page.locator("mark#highlight")
    mark.wait_for(timeout=10000)
    assert "September" in mark.inner_text()
    assert mark.is_visible()
    box = mark.bounding_box()
    assert box is not None and 0 <= box["y"] < 800  # scrolled into view
    page.screenshot(path=str(ARTIFACTS / "source-viewer.png"))
    page.close()


def test_markup_in_an_article_stays_inert(browser, xss_server):
    page = browser.new_page()
    dialogs: list[str] = []

    def record(dialog) -> None:  # an alert() that ran: the markup was not inert
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    page.goto(xss_server.url + "/")
    page.fill("#question", "When will the harbour bridge close?")
    page.click("#ask")
    page.wait_for_selector(".turn.answer .answer-text", timeout=20000)
    assert "<script>" in page.inner_text(".turn.answer .answer-text")  # shown as text
    page.goto(xss_server.url + "/sources/evil#c0-40")
    page.wait_for_selector("mark#highlight")
    assert "<script>" in page.inner_text("#text")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#text script, #text img, .answer-text img").count() == 0
    assert dialogs == []
    page.close()


def test_the_chat_page_sends_the_dates_set_with_the_question(browser, server):
    """The two date inputs are optional; when set they go with the question, and the answer says
    which articles were searched."""
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(server.url + "/")
    page.fill("#since", "2031-01-01")
    page.fill("#question", "When did Iran host Shoigu?")
    with page.expect_request(lambda request: request.url.endswith("/ask") and request.method == "POST") as sent:
        page.click("#ask")
    body = sent.value.post_data_json
    assert body["since"] == "2031-01-01" and "until" not in body
    page.wait_for_selector(".turn.answer.declined", timeout=20000)
    assert "Only articles published from 2031-01-01 on were searched." in page.inner_text(".turn.answer.declined")
    page.fill("#since", "")
    page.fill("#question", "When did Iran host Shoigu?")
    with page.expect_request(lambda request: request.url.endswith("/ask") and request.method == "POST") as sent:
        page.click("#ask")
    assert "since" not in sent.value.post_data_json  # cleared: no bound
    page.locator(".turn.answer").nth(1).wait_for(timeout=20000)
    assert "September" in page.locator(".turn.answer").nth(1).inner_text()
    page.close()

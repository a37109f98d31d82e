// Chat page: POST /ask, render the answer with [n] markers linked to numbered sources.
// Everything from the server is inserted as text (textContent), never as HTML.
"use strict";
(function () {
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const log = document.getElementById("log");
  const since = document.getElementById("since");
  const until = document.getElementById("until");
  let conversationId = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function safeHref(url) {
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : "#";
    } catch (e) {
      return "#";
    }
  }

  function renderAnswer(data) {
    const box = el("div", "turn answer");
    if (!data.answered) {
      box.classList.add("declined");
      box.appendChild(el("p", null, data.message || "No answer found."));
      return box;
    }
    const byNumber = new Map(data.citations.map((c) => [c.n, c]));
    const para = el("p", "answer-text");
    let text = data.answer;
    // The direct answer ("September") leads in bold; the evidence sentence follows.
    // A time answer leads with its resolved value: "2016 ("last year", article of 3 Mar 2017)".
    if (data.headline && text.startsWith(data.headline + " — ")) {
      para.appendChild(el("strong", "short-answer", data.headline));
      para.appendChild(document.createTextNode(" — "));
      text = text.slice(data.headline.length + 3);
    }
    // Split on markers like [1]; markers become links to their source.
    text.split(/(\[\d+\])/).forEach((part) => {
      const m = part.match(/^\[(\d+)\]$/);
      if (m && byNumber.has(Number(m[1]))) {
        const a = el("a", "marker", part);
        a.href = safeHref(byNumber.get(Number(m[1])).url);
        para.appendChild(a);
      } else {
        para.appendChild(document.createTextNode(part));
      }
    });
    box.appendChild(para);
    const list = el("ol", "sources");
    data.citations.forEach((c) => {
      c.sources.forEach((s, i) => {
        const item = el("li", "source");
        if (i === 0) item.value = c.n; else item.classList.add("also");
        const link = el("a", "citation", (i === 0 ? "" : "also: ") + s.title);
        link.href = safeHref(s.url);
        link.dataset.n = String(c.n);
        item.appendChild(link);
        const meta = [s.publisher, s.published].filter(Boolean).join(", ");
        if (meta) item.appendChild(el("span", "meta", " — " + meta));
        item.appendChild(el("blockquote", null, s.passage));
        list.appendChild(item);
      });
    });
    box.appendChild(list);
    box.appendChild(el("p", "took", Math.round(data.took_ms) + " ms"));
    return box;
  }

  async function ask(question) {
    log.appendChild(el("div", "turn question", question));
    const pending = el("div", "turn pending", "Searching the articles…");
    log.appendChild(pending);
    // The first question starts a conversation; later ones continue it (follow-ups).
    const body = conversationId ? { question: question, conversation_id: conversationId } : { question: question, start_conversation: true };
    // Publication dates, when set, apply to this question only; the server checks them.
    if (since.value) body.since = since.value;
    if (until.value) body.until = until.value;
    try {
      const response = await fetch("/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await response.json();
      pending.remove();
      if (!response.ok) {
        if (response.status === 404 && conversationId) conversationId = null; // forgotten: the next question starts anew
        log.appendChild(el("div", "turn error", data.detail || "Request failed (" + response.status + ")"));
        return;
      }
      conversationId = data.conversation_id;
      log.appendChild(renderAnswer(data));
    } catch (err) {
      pending.remove();
      log.appendChild(el("div", "turn error", "Could not reach the server: " + err));
    }
    window.scrollTo(0, document.body.scrollHeight);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    input.value = "";
    ask(question);
  });
  document.getElementById("new").addEventListener("click", () => {
    conversationId = null;
    log.replaceChildren();
    input.focus();
  });
})();

// Source viewer: highlight the span named by #cSTART-END and scroll it into view.
// The document text is read from inert JSON and inserted as text nodes only.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("doc-data").textContent);
  const article = document.getElementById("text");

  function render() {
    const m = window.location.hash.match(/^#c(\d+)-(\d+)$/);
    article.replaceChildren();
    if (!m) {
      article.appendChild(document.createTextNode(data.text));
      return;
    }
    const start = Math.min(Number(m[1]), data.text.length);
    const end = Math.min(Math.max(Number(m[2]), start), data.text.length);
    article.appendChild(document.createTextNode(data.text.slice(0, start)));
    const mark = document.createElement("mark");
    mark.id = "highlight";
    mark.textContent = data.text.slice(start, end);
    article.appendChild(mark);
    article.appendChild(document.createTextNode(data.text.slice(end)));
    mark.scrollIntoView({ block: "center" });
  }

  window.addEventListener("hashchange", render);
  render();
})();

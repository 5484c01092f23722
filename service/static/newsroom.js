/* The newsroom page: a draft and its publication date in, the linked entities out.

   Talks to the API of the server that serves it (POST /v1/annotate, GET /v1/jobs/{id}).
   Everything that comes from Wikidata (labels, descriptions, fact values) is put in the page as
   text (textContent), never as HTML, and the page's Content-Security-Policy allows no inline
   script: a label like <img src=x onerror=...> is shown as those characters.
*/
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("draft-form");
  const status = $("status");
  const JOB_POLL_MS = 300;
  const JOB_DEADLINE_MS = 60000;
  let request = null;        // the body of the last annotate request, for the format views
  let result = null;

  $("published-at").value = new Date().toISOString().slice(0, 10);
  $("api-key").value = sessionStorage.getItem("factlink-api-key") || "";

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function headers(extra = {}) {
    const key = $("api-key").value.trim();
    sessionStorage.setItem("factlink-api-key", key);
    return key ? { ...extra, "X-API-Key": key } : extra;
  }

  function say(message, isError = false) {
    status.textContent = message;
    status.classList.toggle("error", isError);
  }

  async function failure(response) {
    try {
      const body = await response.json();
      return `${body.error.message} (${body.error.code}, HTTP ${response.status})`;
    } catch (_) {
      return `HTTP ${response.status}`;
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** POST /v1/annotate; a 202 (the workers are busy) is polled until the job ends. */
  async function annotate(body, format) {
    const query = format ? `?format=${encodeURIComponent(format)}` : "";
    const response = await fetch(`/v1/annotate${query}`, {
      method: "POST", headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body) });
    if (response.status !== 202) return response;
    const job = await response.json();
    const deadline = Date.now() + JOB_DEADLINE_MS;
    while (Date.now() < deadline) {
      say("The linkers are busy; waiting for the result…");
      await sleep(JOB_POLL_MS);
      const poll = await fetch(job.poll, { headers: headers() });
      if (!poll.ok) return poll;
      const state = await poll.json();
      if (state.status === "done" || state.status === "failed") {
        if (state.status === "failed") throw new Error(`${state.error.message} (${state.error.code})`);
        return format && format !== "json" ? annotate(body, format)   // now cached: fast
          : new Response(JSON.stringify(state.result), { headers: { "Content-Type": "application/json" } });
      }
    }
    throw new Error("no result within a minute; try again");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("draft").value;
    if (!text.trim()) { say("Paste a draft first.", true); return; }
    const threshold = Number($("threshold").value);
    request = { text, published_at: $("published-at").value || null,
                options: { threshold: Number.isFinite(threshold) ? threshold : 0.35 } };
    say("Linking…");
    $("annotate").disabled = true;
    try {
      const response = await annotate(request);
      if (!response.ok) { say(await failure(response), true); return; }
      result = await response.json();
      render(text, result);
      const linked = result.mentions.filter((m) => m.qid).length;
      say(`${linked} linked mention${linked === 1 ? "" : "s"}, ${Object.keys(result.entities).length} entities, facts as of ${result.published_at || "today"}.`);
      showFormat("json");
    } catch (error) {
      say(`The service cannot be reached: ${error.message}`, true);
    } finally {
      $("annotate").disabled = false;
    }
  });

  // --- the annotated text -----------------------------------------------------------------------

  function render(text, linking) {
    const view = $("annotated");
    view.replaceChildren();
    const mentions = [...linking.mentions].sort((a, b) => a.start_utf16 - b.start_utf16);
    let at = 0;
    mentions.forEach((mention, index) => {
      if (mention.start_utf16 < at) return;                 // never overlapping; be safe
      view.append(document.createTextNode(text.slice(at, mention.start_utf16)));
      const surface = text.slice(mention.start_utf16, mention.end_utf16);
      if (mention.qid) {
        const mark = element("mark", "mention", surface);
        if (mention.confidence < 0.6) mark.classList.add("low");
        mark.tabIndex = 0;
        mark.setAttribute("role", "button");
        mark.dataset.qid = mention.qid;
        mark.dataset.index = String(index);
        mark.setAttribute("aria-label",
          `${surface}: ${mention.label || mention.qid}, confidence ${mention.confidence.toFixed(2)}`);
        mark.append(element("span", "confidence", mention.confidence.toFixed(2)));
        view.append(mark);
      } else {
        const nil = element("span", "nil", surface);
        nil.title = "not in the knowledge base";
        view.append(nil);
      }
      at = mention.end_utf16;
    });
    view.append(document.createTextNode(text.slice(at)));
    renderNilNames(mentions);
    $("card").replaceChildren(element("p", "muted", "Select a highlighted name."));
    $("results").hidden = false;
  }

  function renderNilNames(mentions) {
    const counts = new Map();
    for (const mention of mentions) {
      if (!mention.qid) counts.set(mention.text, (counts.get(mention.text) || 0) + 1);
    }
    const list = $("nil-names");
    list.replaceChildren();
    if (!counts.size) list.append(element("li", "muted", "none: every name was linked"));
    for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
      list.append(element("li", "", count > 1 ? `${name} (${count}×)` : name));
    }
  }

  // --- the card ---------------------------------------------------------------------------------

  function whyNotCurrent(value, asOf) {
    if (value.end && asOf && value.end < asOf) return `no longer true on ${asOf}: ended ${value.end}`;
    if (value.start && asOf && value.start > asOf) return `not yet true on ${asOf}: from ${value.start}`;
    return `not true on ${asOf || "that date"}`;
  }

  function showCard(mark) {
    document.querySelectorAll(".mention.selected").forEach((m) => m.classList.remove("selected"));
    mark.classList.add("selected");
    const qid = mark.dataset.qid;
    const factCard = result.entities[qid];
    const card = $("card");
    card.replaceChildren();
    const mention = result.mentions.find((m) => m.qid === qid) || {};
    card.append(element("p", "label", (factCard && factCard.label) || mention.label || qid));
    if (!factCard) {
      card.append(element("p", "muted", "No fact card for this entity."));
      return;
    }
    if (factCard.description) card.append(element("p", "description", factCard.description));
    const asOf = factCard.as_of || result.published_at;
    const facts = element("dl");
    for (const fact of factCard.facts || []) {
      facts.append(element("dt", "", fact.property_label || fact.property));
      for (const value of fact.values || []) {
        const detail = element("dd");
        const shown = element("span", value.current === false ? "stale" : "", value.value);
        detail.append(shown);
        const span = [value.start, value.end].some(Boolean) ? ` (${value.start || "…"} – ${value.end || "…"})` : "";
        if (span) detail.append(document.createTextNode(span));
        if (value.current === false) detail.append(element("span", "stale-note", whyNotCurrent(value, asOf)));
        facts.append(detail);
      }
    }
    card.append(element("p", "muted", asOf ? `Facts as of ${asOf}:` : "Facts as of today:"), facts);
    const link = element("a", "", `${qid} on Wikidata`);
    const url = String(factCard.wikidata_url || "");
    link.href = url.startsWith("https://www.wikidata.org/") ? url : `https://www.wikidata.org/wiki/${qid}`;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    card.append(link);
  }

  $("annotated").addEventListener("click", (event) => {
    const mark = event.target.closest(".mention");
    if (mark) showCard(mark);
  });
  $("annotated").addEventListener("mouseover", (event) => {
    const mark = event.target.closest(".mention");
    if (mark) showCard(mark);
  });
  $("annotated").addEventListener("focusin", (event) => {
    const mark = event.target.closest(".mention");
    if (mark) showCard(mark);
  });
  $("annotated").addEventListener("keydown", (event) => {
    const mark = event.target.closest(".mention");
    if (mark && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); showCard(mark); }
  });

  // --- the formats ------------------------------------------------------------------------------

  async function showFormat(format) {
    document.querySelectorAll("[role=tab]").forEach((tab) => {
      tab.setAttribute("aria-selected", String(tab.dataset.format === format));
    });
    const output = $("format-output");
    if (!request) return;
    output.textContent = "Loading…";
    try {
      const response = await annotate(request, format);
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok) {
        output.textContent = `The service cannot give this format: ${await failure(response)}`;
      } else if (type.includes("json")) {
        output.textContent = JSON.stringify(await response.json(), null, 2);
      } else {
        output.textContent = await response.text();
      }
    } catch (error) {
      output.textContent = `The service cannot be reached: ${error.message}`;
    }
  }

  document.querySelectorAll("[role=tab]").forEach((tab) => {
    tab.addEventListener("click", () => showFormat(tab.dataset.format));
  });
})();

/* factlink content script: highlights the people, places and organisations an article names,
   with a fact card on hover or keyboard focus.

   0. Run only where the reader wants it: on the sites of the options page (empty: every page),
      since the page's text is sent to the service.
   1. Collect the article's text: the one <article>, else <main>, else <body>; skipping scripts,
      styles, navigation, sidebars, forms, code and hidden parts. The text nodes of one block (a
      paragraph, heading, list item, up to a <br>) form one segment, in document order.
   2. Send the segments to the service through the background worker (POST /v1/annotate with
      {"segments": [...]}); the page's date (article:published_time, <time datetime>) picks the
      facts. Nothing in the page changes before the answer: a failing or slow service leaves
      the page exactly as it was, with one console warning.
   3. Wrap each linked mention in place: the mention's UTF-16 offsets into its segment become
      offsets into the text nodes it covers, and each covered node is split around it.

   Names split by inline markup ("<b>Emmanuel</b> Macron"): the segment is the whole block, so
   the service sees "Emmanuel Macron" and links the full name. The DOM cannot wrap one element
   around text that starts inside <b> and ends outside it without moving the page's own
   elements, so the mention becomes one highlight per text node it covers, all for the same
   entity: the first is the keyboard stop (role="button"), the others are mouse targets only.
   Inside a page's link the link stays the only keyboard stop, and focusing it opens the card.
   Nothing of the page's own elements is moved, replaced or re-parented.

   DOM writes are batched in slices of WRITE_SLICE_MS so the page's main thread is never held
   long; the time from the script's start to the last highlight is recorded as the performance
   measure "factlink:highlight".
*/
"use strict";

(() => {
  const started = performance.now();
  const WRITE_SLICE_MS = 8;
  // under the service's default 200 KB per article even at 3 UTF-8 bytes a character (an
  // astral character is 2 UTF-16 units and 4 bytes); longer pages are highlighted up to here
  const MAX_TEXT_CHARS = 60000;
  const ANSWER_TIMEOUT_MS = 10000;        // the background worker's own deadline is 8 s
  const SKIP = new Set(["script", "style", "noscript", "template", "nav", "aside", "form",
    "input", "textarea", "select", "option", "button", "label", "fieldset", "iframe", "object",
    "embed", "svg", "math", "canvas", "video", "audio", "code", "pre", "kbd", "samp", "dialog",
    "menu", "head", "title"]);
  const SKIP_ROLES = new Set(["navigation", "search", "complementary", "banner", "contentinfo",
    "menu", "menubar", "toolbar", "dialog", "form"]);
  const INLINE = new Set(["a", "abbr", "b", "bdi", "bdo", "cite", "data", "dfn", "em", "i",
    "mark", "q", "s", "small", "span", "strong", "sub", "sup", "time", "u", "var", "font", "big",
    "tt", "ins", "del", "wbr"]);
  const HIGHLIGHT = "factlink-mention";

  function articleRoot() {
    const articles = document.querySelectorAll("article");
    if (articles.length === 1) return articles[0];
    return document.querySelector("main, [role=main]") || document.body;
  }

  function skipped(element, root) {
    const name = element.localName;
    if (SKIP.has(name) || element.hidden || element.getAttribute("aria-hidden") === "true"
        || SKIP_ROLES.has(element.getAttribute("role")) || element.isContentEditable
        || element.classList.contains(HIGHLIGHT)) return true;
    // a page's own banner and footer, not an article's header with its headline
    return root === document.body && (name === "header" || name === "footer");
  }

  /** Segments: {text, nodes: [{node, start, data}]}, start = UTF-16 offset in the segment. */
  function collectSegments(root) {
    const segments = [];
    let current = null;
    let currentBlock = null;
    let chars = 0;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => (node.nodeType === Node.ELEMENT_NODE && skipped(node, root)
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeType === Node.ELEMENT_NODE) {
        if (!INLINE.has(node.localName)) current = null;   // a block or a <br>: a new segment
        continue;
      }
      if (chars + node.data.length > MAX_TEXT_CHARS) break;
      let block = node.parentElement;
      while (block !== root && INLINE.has(block.localName)) block = block.parentElement;
      if (current === null || block !== currentBlock) {
        current = { text: "", nodes: [] };
        currentBlock = block;
        segments.push(current);
      }
      current.nodes.push({ node, start: current.text.length, data: node.data });
      current.text += node.data;
      chars += node.data.length;
    }
    return segments.filter((segment) => segment.text.trim() !== "");
  }

  function publicationDate(root) {
    const selectors = ['meta[property="article:published_time"]', 'meta[name="article:published_time"]',
      'meta[itemprop="datePublished"]', 'meta[name="date"]', 'meta[name="DC.date.issued"]',
      'meta[name="pubdate"]'];
    for (const selector of selectors) {
      const date = isoDate(document.querySelector(selector)?.getAttribute("content"));
      if (date) return date;
    }
    const time = root.querySelector("time[datetime]") || document.querySelector("time[datetime]");
    return isoDate(time?.getAttribute("datetime"));
  }

  function isoDate(value) {
    const match = /^\d{4}-\d{2}-\d{2}/.exec(value || "");
    return match ? match[0] : null;
  }

  function ask(message) {
    const timeout = new Promise((_, reject) => setTimeout(
      () => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)), ANSWER_TIMEOUT_MS));
    return Promise.race([chrome.runtime.sendMessage(message), timeout]).then((answer) => {
      if (!answer) throw new Error("the extension's background worker did not answer");
      if (!answer.ok) throw new Error(answer.error);
      return answer.value;
    });
  }

  /** Per text node, the pieces of mentions it holds: [{a, b, mention, first}] in UTF-16. */
  function plan(segments, mentions) {
    const pieces = new Map();
    mentions.forEach((mention, index) => {
      const segment = segments[mention.segment];
      if (!mention.qid || !segment) return;
      let first = true;
      for (const entry of segment.nodes) {
        const end = entry.start + entry.data.length;
        if (end <= mention.start_utf16 || entry.start >= mention.end_utf16) continue;
        let a = Math.max(mention.start_utf16, entry.start) - entry.start;
        let b = Math.min(mention.end_utf16, end) - entry.start;
        while (a < b && /\s/.test(entry.data[a])) a += 1;     // no highlight on a bare space
        while (b > a && /\s/.test(entry.data[b - 1])) b -= 1;
        if (a === b) continue;
        // inside a link or button the page's own control is the keyboard stop, never ours
        const control = entry.node.parentElement.closest("a[href], button, [role=button], [tabindex]");
        if (!pieces.has(entry)) pieces.set(entry, []);
        pieces.get(entry).push({ a, b, mention, index, first: first && !control });
        first = false;
      }
    });
    return pieces;
  }

  function highlightElement(piece) {
    const span = document.createElement("span");
    span.className = HIGHLIGHT;
    span.dataset.factlinkQid = piece.mention.qid;
    span.dataset.factlinkMention = String(piece.index);
    if (piece.first) {
      span.tabIndex = 0;
      span.setAttribute("role", "button");
      span.setAttribute("aria-haspopup", "dialog");
      span.setAttribute("aria-expanded", "false");
      span.setAttribute("aria-description", `factlink: ${piece.mention.label || piece.mention.qid}`);
    }
    return span;
  }

  /** Wrap one text node's pieces, last first, so earlier offsets stay valid. */
  function wrapNode(entry, nodePieces) {
    const node = entry.node;
    // the page changed this text since it was read: leave it alone
    if (!node.isConnected || node.data !== entry.data) return 0;
    nodePieces.sort((x, y) => y.a - x.a);
    let rest = node;
    let wrapped = 0;
    for (const piece of nodePieces) {
      if (piece.b > rest.data.length) continue;            // overlaps a piece already wrapped
      rest.splitText(piece.b);
      const middle = piece.a > 0 ? rest.splitText(piece.a) : rest;
      const span = highlightElement(piece);
      middle.parentNode.insertBefore(span, middle);
      span.appendChild(middle);
      wrapped += 1;
      if (piece.a === 0) break;
    }
    return wrapped;
  }

  function applyInSlices(work, done) {
    let next = 0;
    let wrapped = 0;
    let longestSlice = 0;
    const step = () => {
      const sliceStart = performance.now();
      while (next < work.length && performance.now() - sliceStart < WRITE_SLICE_MS) {
        const [entry, nodePieces] = work[next++];
        wrapped += wrapNode(entry, nodePieces);
      }
      longestSlice = Math.max(longestSlice, performance.now() - sliceStart);
      if (next < work.length) setTimeout(step, 0);
      else done(wrapped, longestSlice);
    };
    step();
  }

  // --- the fact card -------------------------------------------------------------------------

  const CARD_STYLE = `
    :host { all: initial; }
    .card { position: absolute; box-sizing: border-box; width: 22rem; max-width: calc(100vw - 16px);
      padding: 12px 14px; background: #fff; color: #1d1d1f; border: 1px solid #b8b8c0;
      border-radius: 8px; box-shadow: 0 6px 24px rgba(0,0,0,.18);
      font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
    .label { font-weight: 650; font-size: 16px; margin: 0 0 2px; }
    .description { color: #4a4a55; margin: 0 0 8px; }
    .as-of { color: #6a6a75; font-size: 12px; margin: 0 0 4px; }
    dl { margin: 0 0 8px; display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; }
    dt { color: #6a6a75; } dd { margin: 0; }
    a { color: #1a5fb4; } a:focus-visible { outline: 2px solid #1a5fb4; }
    .status { color: #6a6a75; font-style: italic; }`;

  let card = null;           // {host, root, box, ...} once made; made on first use only
  let openFor = null;        // the highlight whose card is open
  let hideTimer = 0;
  let cardDate = null;

  function makeCard() {
    const host = document.createElement("div");
    host.id = "factlink-card-host";
    host.style.cssText = "position:absolute;top:0;left:0;z-index:2147483647;";
    const root = host.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = CARD_STYLE;
    const box = document.createElement("div");
    box.className = "card";
    box.id = "factlink-card";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-labelledby", "factlink-card-label");
    const part = (tag, className) => {
      const element = document.createElement(tag);
      element.className = className;
      box.appendChild(element);
      return element;
    };
    const label = part("div", "label");
    label.id = "factlink-card-label";
    const description = part("div", "description");
    const asOf = part("div", "as-of");
    const facts = part("dl", "facts");
    const status = part("div", "status");
    const link = part("a", "wikidata");
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    root.append(style, box);
    box.addEventListener("mouseenter", () => clearTimeout(hideTimer));
    box.addEventListener("mouseleave", () => scheduleHide());
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.stopPropagation(); hideCard(true); }
    });
    box.addEventListener("focusout", (event) => {
      if (!box.contains(event.relatedTarget) && event.relatedTarget !== openFor) hideCard(false);
    });
    document.documentElement.appendChild(host);
    card = { host, box, label, description, asOf, facts, status, link };
    return card;
  }

  function mentionOf(highlight) {
    return highlight.closest(`.${HIGHLIGHT}`);
  }

  function keyStop(highlight) {
    // the keyboard stop of the mention this highlight is part of
    const index = highlight.dataset.factlinkMention;
    return document.querySelector(`.${HIGHLIGHT}[data-factlink-mention="${index}"][role=button]`)
      || highlight;
  }

  function showCard(highlight) {
    clearTimeout(hideTimer);
    const stop = keyStop(highlight);
    if (openFor === stop) return;
    collapse(openFor);
    const c = card || makeCard();
    openFor = stop;
    if (stop.getAttribute("role") === "button") {
      stop.setAttribute("aria-expanded", "true");
      stop.setAttribute("aria-controls", "factlink-card");
    }
    const qid = stop.dataset.factlinkQid;
    const mention = mentionsByIndex[stop.dataset.factlinkMention] || {};
    fill(c, { qid, label: mention.label || qid, description: "", facts: [],
              wikidata_url: `https://www.wikidata.org/wiki/${qid}` }, "Loading facts…");
    position(c, highlight);
    c.host.style.display = "";
    ask({ type: "card", qid, asOf: cardDate }).then(({ card: factCard }) => {
      if (openFor === stop) { fill(c, factCard, ""); position(c, highlight); }
    }, (error) => {
      if (openFor === stop) fill(c, null, `Facts unavailable: ${error.message}`);
    });
  }

  /** Everything from Wikidata goes in as text (textContent), never as HTML. */
  function fill(c, factCard, status) {
    c.status.textContent = status;
    if (!factCard) return;
    c.label.textContent = factCard.label || factCard.qid;
    c.description.textContent = factCard.description || "";
    c.asOf.textContent = cardDate ? `True on ${cardDate}, the article's date:` : "True today:";
    c.facts.replaceChildren();
    for (const fact of factCard.facts || []) {
      const values = (fact.values || []).filter((value) => value.current !== false);
      if (!values.length) continue;
      const term = document.createElement("dt");
      term.textContent = fact.property_label || fact.property;
      const detail = document.createElement("dd");
      detail.textContent = values.map((value) => value.value).join(", ");
      c.facts.append(term, detail);
    }
    c.asOf.hidden = !c.facts.childElementCount;
    c.link.textContent = `${factCard.qid} on Wikidata`;
    const url = String(factCard.wikidata_url || "");
    c.link.href = url.startsWith("https://www.wikidata.org/")
      ? url : `https://www.wikidata.org/wiki/${factCard.qid}`;
  }

  function position(c, highlight) {
    const rect = highlight.getBoundingClientRect();
    const width = c.box.offsetWidth || 352;
    const left = Math.min(rect.left, document.documentElement.clientWidth - width - 8);
    c.box.style.left = `${Math.max(8, left) + window.scrollX}px`;
    c.box.style.top = `${rect.bottom + 6 + window.scrollY}px`;
  }

  function collapse(highlight) {
    if (highlight && highlight.getAttribute("role") === "button") {
      highlight.setAttribute("aria-expanded", "false");
    }
  }

  function hideCard(refocus) {
    clearTimeout(hideTimer);
    if (!card || !openFor) return;
    card.host.style.display = "none";
    collapse(openFor);
    const was = openFor;
    openFor = null;
    if (refocus) was.focus();
  }

  function scheduleHide() {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => hideCard(false), 250);
  }

  function listen() {
    document.addEventListener("mouseover", (event) => {
      const highlight = event.target instanceof Element && mentionOf(event.target);
      if (highlight) showCard(highlight);
    }, true);
    document.addEventListener("mouseout", (event) => {
      const highlight = event.target instanceof Element && mentionOf(event.target);
      if (highlight && event.relatedTarget !== card?.host) scheduleHide();
    }, true);
    document.addEventListener("focusin", (event) => {
      const target = event.target instanceof Element ? event.target : null;
      // a highlight, or the page's link around one
      const highlight = target && (mentionOf(target) || target.querySelector(`.${HIGHLIGHT}`));
      if (highlight) showCard(highlight);
    }, true);
    document.addEventListener("focusout", (event) => {
      const target = event.target instanceof Element ? event.target : null;
      const highlight = target && (mentionOf(target) || target.querySelector(`.${HIGHLIGHT}`));
      if (highlight && event.relatedTarget !== card?.host) hideCard(false);
    }, true);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && openFor) {
        hideCard(document.activeElement === card.host);
      } else if ((event.key === "Enter" || event.key === " ") && event.target instanceof Element
                 && event.target.classList.contains(HIGHLIGHT)) {
        event.preventDefault();               // into the card, to reach its Wikidata link
        showCard(event.target);
        card.link.focus();
      }
    }, true);
  }

  // --- run -------------------------------------------------------------------------------------

  const mentionsByIndex = {};

  function warn(reason) {
    console.warn(`factlink: no highlights on this page (${reason}); the page is left as it was.`);
  }

  function run() {
    const collectStart = performance.now();
    const root = articleRoot();
    if (!root) return;
    const segments = collectSegments(root);
    if (!segments.length) return;
    cardDate = publicationDate(root);
    const collectMs = performance.now() - collectStart;
    ask({ type: "annotate", segments: segments.map((s) => s.text), publishedAt: cardDate })
      .then((result) => {
        const mentions = result.mentions || [];
        mentions.forEach((mention, index) => { mentionsByIndex[index] = mention; });
        const planStart = performance.now();
        const work = [...plan(segments, mentions)];
        const planMs = performance.now() - planStart;
        applyInSlices(work, (wrapped, longestSliceMs) => {
          if (wrapped) listen();
          // what the extension itself held the main thread for, at most, in one go
          performance.measure("factlink:highlight", { start: started, end: performance.now(),
                                                      detail: { highlights: wrapped, collectMs,
                                                                planMs, longestSliceMs } });
        });
      }, (error) => warn(error.message));
  }

  /** The reader may keep factlink to some sites: elsewhere no text leaves the page. */
  function wanted(sites) {
    const host = location.hostname.toLowerCase();
    return !sites.length || sites.some((site) => host === site || host.endsWith(`.${site}`));
  }

  chrome.storage.sync.get({ sites: [] }).then(({ sites }) => {
    if (!wanted(sites)) return;
    try {
      run();
    } catch (error) {
      warn(`${error.name}: ${error.message}`);
    }
  }, (error) => warn(`the extension's settings cannot be read: ${error.message}`));
})();

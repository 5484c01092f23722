/* factlink extension, service worker: the only part that talks to the factlink service.

   The content script asks for two things by message: "annotate" (the page's text blocks ->
   mentions) and "card" (a QID and a date -> the fact card). Requests go to the service URL of
   the options page, with its API key in X-API-Key. A service that fails or answers too late is
   an error passed back to the content script, which then leaves the page as it was.

   Fact cards are cached in chrome.storage.session with their ETag: within the card's
   Cache-Control max-age no request is made; after it the card is revalidated with
   If-None-Match and a 304 keeps the stored copy. Session storage lives as long as the browser
   session (it outlives this worker, which Chrome stops when idle) and is never written to disk.
*/
"use strict";

const DEFAULTS = { serviceUrl: "http://127.0.0.1:8080", apiKey: "" };
// A page must not wait on a slow service: past this the page stays as it was.
const ANNOTATE_TIMEOUT_MS = 8000;
const CARD_TIMEOUT_MS = 5000;
const JOB_POLL_MS = 250;
const CARD_KEY_PREFIX = "card|";

async function currentSettings() {
  const stored = await chrome.storage.sync.get(DEFAULTS);
  return { serviceUrl: String(stored.serviceUrl || DEFAULTS.serviceUrl).replace(/\/+$/, ""),
           apiKey: String(stored.apiKey || "") };
}

function requestHeaders(apiKey, extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (apiKey) headers["X-API-Key"] = apiKey;
  return headers;
}

async function fetchWithin(url, init, ms) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(ms, 1));
  try {
    return await fetch(url, { ...init, signal: controller.signal, credentials: "omit" });
  } catch (error) {
    if (error.name === "AbortError") throw new Error(`no answer from ${url} within ${ms} ms`);
    throw new Error(`${url} cannot be reached (${error.message})`);
  } finally {
    clearTimeout(timer);
  }
}

async function describeFailure(response) {
  try {
    const body = await response.json();
    return `HTTP ${response.status} ${body.error.code}: ${body.error.message}`;
  } catch (_) {
    return `HTTP ${response.status}`;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function annotate({ segments, publishedAt }) {
  const { serviceUrl, apiKey } = await currentSettings();
  const deadline = Date.now() + ANNOTATE_TIMEOUT_MS;
  // cards come from /v1/entities on demand (and cached), so the page's answer stays small
  const body = { segments, options: { fact_cards: false, relations: false } };
  if (publishedAt) body.published_at = publishedAt;
  const response = await fetchWithin(`${serviceUrl}/v1/annotate`, {
    method: "POST", headers: requestHeaders(apiKey, { "Content-Type": "application/json" }),
    body: JSON.stringify(body) }, ANNOTATE_TIMEOUT_MS);
  if (response.status === 202) {           // queued behind other work: poll, within the deadline
    const job = await response.json();
    for (;;) {
      await sleep(JOB_POLL_MS);
      if (Date.now() >= deadline) throw new Error(`no result within ${ANNOTATE_TIMEOUT_MS} ms`);
      const poll = await fetchWithin(serviceUrl + job.poll, { headers: requestHeaders(apiKey) },
                                     deadline - Date.now());
      if (!poll.ok) throw new Error(await describeFailure(poll));
      const status = await poll.json();
      if (status.status === "done") return status.result;
      if (status.status === "failed") {
        throw new Error(`${status.error.code}: ${status.error.message}`);
      }
    }
  }
  if (!response.ok) throw new Error(await describeFailure(response));
  return response.json();
}

async function storedCard(key) {
  return (await chrome.storage.session.get(key))[key];
}

async function storeCard(key, entry) {
  try {
    await chrome.storage.session.set({ [key]: entry });
  } catch (_) {                           // over the session quota: start the cache afresh
    const all = await chrome.storage.session.get(null);
    await chrome.storage.session.remove(Object.keys(all).filter((k) => k.startsWith(CARD_KEY_PREFIX)));
    await chrome.storage.session.set({ [key]: entry });
  }
}

async function factCard({ qid, asOf }) {
  if (!/^Q[1-9][0-9]*$/.test(qid)) throw new Error(`not a Wikidata item id: ${qid}`);
  const { serviceUrl, apiKey } = await currentSettings();
  const key = `${CARD_KEY_PREFIX}${serviceUrl}|${qid}|${asOf || ""}`;
  const stored = await storedCard(key);
  if (stored && stored.freshUntil > Date.now()) return { card: stored.card, cache: "fresh" };
  const headers = requestHeaders(apiKey);
  if (stored && stored.etag) headers["If-None-Match"] = stored.etag;
  const url = `${serviceUrl}/v1/entities/${qid}` + (asOf ? `?as_of=${asOf}` : "");
  // the ETag cache is ours: the browser's HTTP cache must not answer in its place
  const response = await fetchWithin(url, { headers, cache: "no-store" }, CARD_TIMEOUT_MS);
  let card;
  let cache;
  if (response.status === 304 && stored) {
    card = stored.card;
    cache = "revalidated";
  } else if (response.ok) {
    card = await response.json();
    cache = "miss";
  } else {
    throw new Error(await describeFailure(response));
  }
  const maxAge = /max-age=(\d+)/.exec(response.headers.get("Cache-Control") || "");
  await storeCard(key, { card, etag: response.headers.get("ETag") || (stored && stored.etag),
                         freshUntil: Date.now() + (maxAge ? Number(maxAge[1]) * 1000 : 0) });
  return { card, cache };
}

const HANDLERS = { annotate, card: factCard };

chrome.runtime.onMessage.addListener((message, _sender, sendResponse) => {
  const handler = HANDLERS[message && message.type];
  if (!handler) return false;
  handler(message).then((value) => sendResponse({ ok: true, value }),
                        (error) => sendResponse({ ok: false, error: String(error.message || error) }));
  return true;                            // the answer comes asynchronously
});

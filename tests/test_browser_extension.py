"""The browser extension in a real chromium, on a local news page, against the real service:
the highlights land on the right words, the card shows the right facts, the page's own layout
and script are untouched, and a dead service leaves the page exactly as it was.

The extension is loaded unpacked (--load-extension) in headless chromium, as a reader would
install it from clients/browser-extension/; its options page is filled in like a reader does.
The service runs with CORS for the extension's origin and an API key, as a deployment would.
"""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests
from browser import (EXTENSION, PageServer, require_chromium, screenshot, start_chromium,
                     stop_chromium)
from service_fixtures import ApiServer, settings_for, wait_for

pytestmark = pytest.mark.integration

API_KEY = "reader-key"

#: In the page's own world, before any of its scripts: the body as parsed (to compare with
#: after a failure) and every long main-thread task (PerformanceObserver "longtask", >= 50 ms).
OBSERVE_PAGE = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries())
    window.__longTasks.push({start: entry.startTime, duration: entry.duration});
}).observe({type: "longtask", buffered: true});
document.addEventListener("DOMContentLoaded", () => {
  window.__bodyAtLoad = document.body.innerHTML;
});
"""


@pytest.fixture(scope="module")
def chromium():
    require_chromium()
    driver = start_chromium(EXTENSION)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OBSERVE_PAGE})
        driver.extension_id = wait_for(lambda: _extension_id(driver), 15,
                                       what="the extension's service worker")
        yield driver
    finally:
        stop_chromium(driver)


def _extension_id(driver) -> str | None:
    for target in driver.execute_cdp_cmd("Target.getTargets", {})["targetInfos"]:
        url = target.get("url", "")
        if target.get("type") == "service_worker" and url.startswith("chrome-extension://"):
            return url.split("/")[2]
    return None


@pytest.fixture(scope="module")
def pages():
    server = PageServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def service(chromium, redis_server, worker):
    """The API as a deployment for the extension runs it: CORS for its origin, API keys on."""
    server = ApiServer(settings_for(
        REDIS_URL=redis_server.url, FACTLINK_API_KEYS=API_KEY, FACTLINK_CARD_MAX_AGE="0",
        FACTLINK_CORS_ORIGINS=f"chrome-extension://{chromium.extension_id}")).start()
    yield server
    server.stop()


def dead_url() -> str:
    """A loopback port with nothing listening (taken free, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def configure(driver, service_url: str, api_key: str = API_KEY, sites: str = "") -> None:
    """Fill in the options page, as a reader would."""
    from selenium.webdriver.common.by import By
    driver.get(f"chrome-extension://{driver.extension_id}/options.html")
    save = driver.find_element(By.CSS_SELECTOR, "button[type=submit]")
    wait_for(save.is_enabled, 10, what="the options page to read the stored settings")
    for field, value in (("service-url", service_url), ("api-key", api_key), ("sites", sites)):
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    save.click()
    wait_for(lambda: driver.find_element(By.ID, "status").text == "Saved.", 10,
             what="the options to be saved")
    driver.get_log("browser")          # start each page with an empty console


def open_article(driver, pages) -> None:
    driver.get(f"{pages.url}/news-article.html")


def highlighted(driver, timeout: float = 15.0) -> dict:
    """Wait for the extension to finish; its measure carries the time and the count."""
    def measure():
        return driver.execute_script(
            "const m = performance.getEntriesByName('factlink:highlight')[0];"
            "return m ? {duration: m.duration, highlights: m.detail.highlights,"
            " end: m.startTime + m.duration, start: m.startTime, collect: m.detail.collectMs,"
            " plan: m.detail.planMs, slice: m.detail.longestSliceMs} : null;")
    return wait_for(measure, timeout, what="the extension's highlights")


HIGHLIGHTS = """
return [...document.querySelectorAll('.factlink-mention')].map((el) => ({
  text: el.textContent, qid: el.dataset.factlinkQid, mention: el.dataset.factlinkMention,
  role: el.getAttribute('role'), tabindex: el.getAttribute('tabindex'),
  parent: el.parentElement.id || el.parentElement.localName,
  outside: !!el.closest('nav, aside, form, script, header.masthead')}));
"""

LAYOUT = """
const boxes = {};
for (const selector of ['header.masthead', 'article', 'article h1', '#lede', 'aside',
                        '#page-widget', 'form.newsletter', 'article p:last-of-type'])
{ const r = document.querySelector(selector).getBoundingClientRect();
  boxes[selector] = [r.x, r.y, r.width, r.height]; }
return boxes;
"""


def console(driver) -> list[dict]:
    """What the page's console received since last asked."""
    return driver.get_log("browser")


def factlink_warnings(driver) -> list[str]:
    return [entry["message"] for entry in console(driver)
            if "factlink" in entry["message"] and entry["level"] == "WARNING"]


def test_a_dead_service_leaves_the_page_as_it_was(chromium, pages, service):
    configure(chromium, dead_url())
    open_article(chromium, pages)
    messages = wait_for(lambda: console(chromium), 15, what="the extension's warning")
    time.sleep(0.5)                                          # nothing else is coming
    messages += console(chromium)
    assert len(messages) == 1, messages                      # the page's console: one line
    assert messages[0]["level"] == "WARNING"
    assert "factlink" in messages[0]["message"] and "left as it was" in messages[0]["message"]
    page = chromium.execute_script(
        "return {same: document.body.innerHTML === window.__bodyAtLoad,"
        " highlights: document.querySelectorAll('.factlink-mention').length,"
        " card: !!document.getElementById('factlink-card-host'),"
        " widget: document.getElementById('page-widget').textContent};")
    assert page == {"same": True, "highlights": 0, "card": False, "widget": "page script ran"}


class SilentServer:
    """Accepts connections and never answers: a service too slow to wait for."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.connections = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                self.connections.append(self.socket.accept()[0])
            except OSError:
                return

    def close(self):
        self.socket.close()
        for connection in self.connections:
            connection.close()


def test_a_slow_service_leaves_the_page_as_it_was(chromium, pages, service):
    silent = SilentServer()
    try:
        configure(chromium, silent.url)
        open_article(chromium, pages)
        warnings = wait_for(lambda: factlink_warnings(chromium), 20,
                            what="the extension's warning")
        assert len(warnings) == 1 and "no answer" in warnings[0], warnings
        assert chromium.execute_script(
            "return document.body.innerHTML === window.__bodyAtLoad"
            " && !document.querySelector('.factlink-mention')")
    finally:
        silent.close()


def test_the_highlights_are_on_the_right_words_and_the_page_is_untouched(chromium, pages, service):
    configure(chromium, dead_url())
    open_article(chromium, pages)
    wait_for(lambda: factlink_warnings(chromium), 15, what="the extension's warning")
    before = chromium.execute_script(LAYOUT)
    text_before = chromium.execute_script("return document.body.textContent")

    configure(chromium, service.url)
    open_article(chromium, pages)
    assert highlighted(chromium)["highlights"] > 20
    marks = chromium.execute_script(HIGHLIGHTS)
    found = {(m["text"], m["qid"]) for m in marks}
    assert {("Vladimir Putin", "Q7747"), ("NATO", "Q7184"), ("Olaf Scholz", "Q61053"),
            ("Angela Merkel", "Q567"), ("Kyiv", "Q1899"), ("Minsk agreements", "Q19359929"),
            ("Jens Stoltenberg", "Q57665")} <= found
    assert not [m for m in marks if m["outside"]]              # no nav, sidebar, form, script

    # "<b>Emmanuel</b> Macron": the full name is linked, one highlight per text node
    lede = next(m for m in marks if m["parent"] == "lead-name")
    emmanuel, macron = [m for m in marks if m["mention"] == lede["mention"]]
    assert (emmanuel["text"], emmanuel["parent"], emmanuel["role"], emmanuel["tabindex"]) == (
        "Emmanuel", "lead-name", "button", "0")
    assert (macron["text"], macron["parent"], macron["role"]) == ("Macron", "lede", None)
    assert emmanuel["qid"] == macron["qid"] == "Q3052772"
    assert all(m["role"] == "button" for m in marks if m["text"] == "Putin")
    # inside the page's own link the link stays the one keyboard stop
    in_link = next(m for m in marks if m["parent"] == "nato-chief")
    assert (in_link["text"], in_link["qid"], in_link["role"], in_link["tabindex"]) == (
        "Jens Stoltenberg", "Q57665", None, None)

    # the page's text, layout and script are as they were without the extension
    assert chromium.execute_script("return document.body.textContent") == text_before
    after = chromium.execute_script(LAYOUT)
    for selector, box in before.items():
        assert after[selector] == pytest.approx(box, abs=0.5), selector
    chromium.execute_script("document.querySelector('#lead-name .factlink-mention').click()")
    assert chromium.execute_script("return window.pageState") == {"clicks": 1, "ran": True}
    assert chromium.execute_script(
        "return document.getElementById('page-widget').textContent") == "page script ran"
    assert factlink_warnings(chromium) == []


def card_contents(driver) -> dict | None:
    return driver.execute_script("""
const host = document.getElementById('factlink-card-host');
if (!host || host.style.display === 'none') return null;
const root = host.shadowRoot;
if (root.querySelector('.status').textContent) return null;       // still loading
const facts = {};
const items = [...root.querySelectorAll('dt, dd')];
for (let i = 0; i < items.length; i += 2) facts[items[i].textContent] = items[i + 1].textContent;
return {label: root.querySelector('.label').textContent,
        description: root.querySelector('.description').textContent,
        asOf: root.querySelector('.as-of').textContent, facts,
        link: root.querySelector('a').href, role: root.querySelector('.card').getAttribute('role')};
""")


def test_hovering_a_name_shows_its_card_with_the_facts_true_on_the_page_date(chromium, pages,
                                                                             service):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    configure(chromium, service.url)
    open_article(chromium, pages)
    highlighted(chromium)

    merkel = chromium.find_element(By.CSS_SELECTOR, '.factlink-mention[data-factlink-qid="Q567"]')
    ActionChains(chromium).move_to_element(merkel).perform()
    card = wait_for(lambda: card_contents(chromium), 10, what="Merkel's card")
    assert card["label"] == "Angela Merkel"
    assert card["facts"]["country of citizenship"] == "Germany"
    assert "position held" not in card["facts"]       # chancellor until 2021-12-08, not 2022-02-10

    lead = chromium.find_element(By.ID, "lead-name")
    ActionChains(chromium).move_to_element(lead).perform()
    card = wait_for(lambda: (c := card_contents(chromium)) and c["label"] != "Angela Merkel" and c,
                    10, what="Macron's card")
    assert card["label"] == "Emmanuel Macron"
    assert card["asOf"] == "True on 2022-02-10, the article's date:"
    assert "President of the French Republic" in card["facts"]["position held"]
    assert card["facts"]["country of citizenship"] == "France"
    assert card["link"] == "https://www.wikidata.org/wiki/Q3052772"
    assert card["role"] == "dialog"
    shot = screenshot(chromium, "extension-card.png")
    assert shot.stat().st_size > 10_000

    # the card came from /v1/entities and is kept with its ETag for the next page
    chromium.get(f"chrome-extension://{chromium.extension_id}/options.html")
    stored = chromium.execute_async_script(
        "const done = arguments[0]; chrome.storage.session.get(null).then(done);")
    macron = next(v for k, v in stored.items() if k.endswith("|Q3052772|2022-02-10"))
    fresh = requests.get(f"{service.url}/v1/entities/Q3052772?as_of=2022-02-10",
                         headers={"X-API-Key": API_KEY})
    assert macron["etag"] == fresh.headers["ETag"]
    assert macron["card"]["label"] == "Emmanuel Macron"


def test_the_keyboard_reaches_a_card_and_escape_closes_it(chromium, pages, service):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    configure(chromium, service.url)
    open_article(chromium, pages)
    highlighted(chromium)
    chromium.execute_script("document.body.focus()")
    ActionChains(chromium).send_keys(Keys.TAB).perform()
    focused = chromium.execute_script(
        "const el = document.activeElement; return el.classList.contains('factlink-mention')"
        " ? {text: el.textContent, expanded: el.getAttribute('aria-expanded')} : el.outerHTML;")
    # the masthead's links come first in tab order; tab on until the first highlight
    for _ in range(10):
        if isinstance(focused, dict):
            break
        ActionChains(chromium).send_keys(Keys.TAB).perform()
        focused = chromium.execute_script(
            "const el = document.activeElement; return el.classList.contains('factlink-mention')"
            " ? {text: el.textContent, expanded: el.getAttribute('aria-expanded')} : null;")
    assert focused == {"text": "Macron", "expanded": "true"}     # the headline's first name
    wait_for(lambda: card_contents(chromium), 10, what="the card on focus")
    ActionChains(chromium).send_keys(Keys.ESCAPE).perform()
    state = chromium.execute_script(
        "const el = document.activeElement; return {hidden: document.getElementById("
        "'factlink-card-host').style.display === 'none', focus: el.textContent,"
        " expanded: el.getAttribute('aria-expanded')};")
    assert state == {"hidden": True, "focus": "Macron", "expanded": "false"}

    # focusing the page's link around a name opens that name's card
    chromium.execute_script("document.getElementById('nato-chief').focus()")
    linked = wait_for(lambda: card_contents(chromium), 10, what="the card of a link's name")
    assert linked["label"] == "Jens Stoltenberg"
    ActionChains(chromium).send_keys(Keys.ESCAPE).perform()
    chromium.execute_script("document.querySelector('[role=button].factlink-mention').focus()")
    wait_for(lambda: (c := card_contents(chromium)) and c["label"] == "Emmanuel Macron", 10,
             what="the card of the first name again")

    # Enter opens the card and moves into it, to its Wikidata link; Escape comes back
    ActionChains(chromium).send_keys(Keys.ENTER).perform()
    wait_for(lambda: card_contents(chromium), 10, what="the card on Enter")
    inside = chromium.execute_script(
        "const active = document.getElementById('factlink-card-host').shadowRoot.activeElement;"
        "return active && active.textContent;")
    assert inside == "Q3052772 on Wikidata"
    ActionChains(chromium).send_keys(Keys.ESCAPE).perform()
    assert chromium.execute_script(
        "return [document.activeElement.textContent,"
        " document.getElementById('factlink-card-host').style.display]") == ["Macron", "none"]


def test_kept_to_other_sites_it_sends_nothing_and_changes_nothing(chromium, pages, service):
    configure(chromium, service.url, sites="news.example.org\nexample.com")
    before = _annotate_requests(service)
    open_article(chromium, pages)
    time.sleep(1.5)
    assert chromium.execute_script(
        "return document.body.innerHTML === window.__bodyAtLoad"
        " && !document.querySelector('.factlink-mention')")
    assert console(chromium) == []
    assert _annotate_requests(service) == before > 0


def _annotate_requests(service) -> float:
    return _responses(service, "/v1/annotate")


def _responses(service, route: str, status: str = "") -> float:
    """Responses on ``route`` (with ``status``, if given) the service has counted."""
    total = 0.0
    for line in requests.get(f"{service.url}/metrics").text.splitlines():
        if not line.startswith("factlink_http_responses_total") or f'route="{route}"' not in line:
            continue
        if not status or f'status="{status}"' in line:
            total += float(line.split()[-1])
    return total


def test_a_card_seen_before_is_revalidated_with_its_etag(chromium, pages, service):
    """The service here says max-age=0: every later look at a card asks with If-None-Match."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    configure(chromium, service.url)
    route = "/v1/entities/{qid}"

    def look_at_macron():
        open_article(chromium, pages)
        highlighted(chromium)
        ActionChains(chromium).move_to_element(
            chromium.find_element(By.ID, "lead-name")).perform()
        wait_for(lambda: (c := card_contents(chromium)) and c["label"] == "Emmanuel Macron", 10,
                 what="Macron's card")

    look_at_macron()                                  # fetched, or revalidated: now stored
    fetched, revalidated = _responses(service, route, "200"), _responses(service, route, "304")
    look_at_macron()
    assert _responses(service, route, "304") == revalidated + 1
    assert _responses(service, route, "200") == fetched


def test_time_to_highlight_a_4_kb_article_on_a_warm_cache(chromium, pages, service, capsys):
    configure(chromium, service.url)
    open_article(chromium, pages)
    highlighted(chromium)                         # the service's result cache is now warm
    runs = []
    for _ in range(5):
        open_article(chromium, pages)
        measure = highlighted(chromium)
        timing = chromium.execute_script(
            "const nav = performance.getEntriesByType('navigation')[0];"
            "return {domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,"
            " longTasks: window.__longTasks,"
            " text: document.querySelector('article').textContent.length};")
        after_start = [t for t in timing["longTasks"] if t["start"] + t["duration"] > measure["start"]]
        runs.append({"highlights": measure["highlights"],
                     "script_start_to_done_ms": round(measure["duration"], 1),
                     "dom_content_loaded_to_done_ms": round(measure["end"] - timing["domContentLoaded"], 1),
                     "load_to_done_ms": round(measure["end"] - timing["load"], 1),
                     "extension_longest_sync_ms": round(max(
                         measure["collect"], measure["plan"], measure["slice"]), 1),
                     "longest_task_ms_after_script_start": max(
                         (round(t["duration"], 1) for t in after_start), default=0.0),
                     "long_tasks_ever": len(timing["longTasks"])})
    article_bytes = len(chromium.execute_script(
        "return document.querySelector('article').textContent").encode())
    medians = {key: sorted(run[key] for run in runs)[len(runs) // 2]
               for key in ("script_start_to_done_ms", "dom_content_loaded_to_done_ms",
                           "load_to_done_ms")}
    report = {"article_text_bytes": article_bytes, "runs": runs, "medians": medians}
    with capsys.disabled():
        print(f"\nextension, warm cache, {article_bytes} B article, 5 loads: "
              f"median {medians['dom_content_loaded_to_done_ms']} ms from DOMContentLoaded to "
              f"the last highlight ({medians['script_start_to_done_ms']} ms from the content "
              f"script's start, {medians['load_to_done_ms']} ms after the load event); "
              f"the extension's longest synchronous step (collect, plan or one write slice): "
              f"{max(r['extension_longest_sync_ms'] for r in runs)} ms; longest main-thread "
              f"task after the script started: "
              f"{max(r['longest_task_ms_after_script_start'] for r in runs)} ms "
              f"(0 = the longtask observer saw none of 50 ms or more)")
    from browser import ARTIFACTS
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "extension-timings.json").write_text(json.dumps(report, indent=2))
    assert all(run["highlights"] == runs[0]["highlights"] for run in runs)

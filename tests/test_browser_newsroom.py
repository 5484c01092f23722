"""The newsroom page at / in a real chromium, against the real service: a journalist pastes a
draft and picks its date, and sees the linked names with their confidence, a card per entity
with the facts no longer true that day marked, the names the KB does not know, and the text as
JSON, Web Annotation or NIF.

The service here runs on a KB of the sample sentence's world in which one label was vandalised
into HTML (as a Wikidata edit could be): the page must show it as text and run none of it.
"""
from __future__ import annotations

import json

import pytest
import requests
from browser import (require_chromium, screenshot, screenshot_path, start_chromium,
                     stop_chromium)
from service_fixtures import ApiServer, WorkerProcess, settings_for, wait_for
from wikidata_dump import NEWS_WORLD, item, write_dump

from linkers import build_kb
from service.handlers.page import CONTENT_SECURITY_POLICY
from workers.embedded_redis import EmbeddedRedis

pytestmark = pytest.mark.integration

#: Dmitry Medvedev's real QID, aliases and claims, with a label and description turned into
#: markup that would run if a page ever put them in as HTML
HOSTILE_LABEL = '<img src=x onerror="window.__xss = \'label\'">'
HOSTILE_DESCRIPTION = "<script>window.__xss = 'description'</script>former President of Russia"
VANDALISED_MEDVEDEV = item("Q23530", HOSTILE_LABEL, HOSTILE_DESCRIPTION,
                           ["Dmitry Medvedev", "Dmitri Medvedev", "Medvedev"],
                           {"P31": ["Q5"], "P27": ["Q159"]})
WORLD = [e for e in NEWS_WORLD if e["id"] != "Q23530"] + [VANDALISED_MEDVEDEV]

DRAFT = ("Macron met Putin in Paris on Monday, and NATO allies watched closely.\n\n"
         "Dmitry Medvedev, now deputy head of the security council, said Ukraine would never "
         "join NATO. Dmitry Peskov, the Kremlin spokesman, and Thermo-Print GmbH had no comment.")


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory):
    """Redis, a worker and the API on the vandalised KB (their own Redis: the session's worker
    serves another KB)."""
    folder = tmp_path_factory.mktemp("newsroom-kb")
    build_kb([str(write_dump(folder / "dump.json", WORLD))], str(folder / "kb"), workers=1,
             progress=False)
    with EmbeddedRedis(tmp_path_factory.mktemp("newsroom-redis")) as redis:
        worker = WorkerProcess(redis.url, FACTLINK_KB=str(folder / "kb")).wait_ready()
        api = ApiServer(settings_for(REDIS_URL=redis.url, FACTLINK_KB=str(folder / "kb"))).start()
        try:
            yield api
        finally:
            api.stop()
            worker.stop()


@pytest.fixture(scope="module")
def chromium():
    require_chromium()
    driver = start_chromium()
    yield driver
    stop_chromium(driver)


def test_the_page_is_served_with_a_content_security_policy(newsroom):
    page = requests.get(f"{newsroom.url}/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    for asset in ("/static/newsroom.js", "/static/newsroom.css"):
        assert requests.get(newsroom.url + asset).status_code == 200
    assert "http" not in page.text.replace('lang="en"', "")        # nothing from a CDN


def test_the_page_is_public_when_api_keys_are_on(redis_server, start_api):
    keyed = start_api(REDIS_URL=redis_server.url, FACTLINK_API_KEYS="desk-key")
    for path in ("/", "/static/newsroom.js", "/static/newsroom.css"):
        assert requests.get(keyed.url + path).status_code == 200, path
    refused = requests.post(f"{keyed.url}/v1/annotate", json={"text": "Macron."})
    assert refused.status_code == 401                 # the data stays behind the key


def annotate_draft(driver, url: str) -> None:
    from selenium.webdriver.common.by import By
    driver.get(f"{url}/")
    draft = driver.find_element(By.ID, "draft")
    draft.send_keys(DRAFT)
    driver.execute_script("document.getElementById('published-at').value = '2022-02-10'")
    driver.find_element(By.ID, "annotate").click()
    wait_for(lambda: driver.execute_script(
        "return !document.getElementById('results').hidden"
        " && document.querySelectorAll('.mention').length"), 30, what="the annotated draft")


MARKS = """return [...document.querySelectorAll('#annotated .mention')].map((el) => ({
  text: el.firstChild.textContent, qid: el.dataset.qid,
  confidence: Number(el.querySelector('.confidence').textContent)}));"""


def card(driver) -> dict:
    return driver.execute_script("""
const card = document.getElementById('card');
return {label: card.querySelector('.label').textContent,
        description: (card.querySelector('.description') || {}).textContent,
        stale: [...card.querySelectorAll('dd')].filter((dd) => dd.querySelector('.stale'))
                .map((dd) => dd.textContent),
        current: [...card.querySelectorAll('dd')].filter((dd) => !dd.querySelector('.stale'))
                .map((dd) => dd.textContent),
        link: card.querySelector('a') && card.querySelector('a').href};""")


def test_a_draft_shows_its_entities_cards_and_unknown_names(chromium, newsroom):
    from selenium.webdriver.common.by import By
    annotate_draft(chromium, newsroom.url)
    marks = chromium.execute_script(MARKS)
    linked = {m["text"]: m["qid"] for m in marks}
    assert linked["Macron"] == "Q3052772" and linked["Putin"] == "Q7747"
    assert linked["NATO"] == "Q7184" and linked["Dmitry Medvedev"] == "Q23530"
    assert all(0.35 <= m["confidence"] <= 1 for m in marks)
    # the draft reads as it was written: highlights wrap its words, nothing else changes
    shown = chromium.execute_script(
        "const view = document.getElementById('annotated').cloneNode(true);"
        "view.querySelectorAll('.confidence').forEach((c) => c.remove());"
        "return view.textContent;")
    assert shown == DRAFT

    nil = chromium.execute_script(
        "return [...document.querySelectorAll('#nil-names li')].map((li) => li.textContent)")
    assert {"Dmitry Peskov", "Thermo-Print GmbH"} <= set(nil)

    # the keyboard reaches each name: focus shows its card
    chromium.execute_script("document.querySelector('.mention[data-qid=\"Q3052772\"]').focus()")
    assert card(chromium)["label"] == "Emmanuel Macron"
    chromium.find_element(By.CSS_SELECTOR, '.mention[data-qid="Q7747"]').click()
    putin = card(chromium)
    assert putin["label"] == "Vladimir Putin"
    assert putin["link"] == "https://www.wikidata.org/wiki/Q7747"
    # President of Russia 2000-2008 is marked as no longer true; the term from 2012 is current
    assert any("ended 2008-05-07" in fact and "no longer true on 2022-02-10" in fact
               for fact in putin["stale"]), putin
    assert any(fact.startswith("President of Russia (2012-05-07") for fact in putin["current"])
    chromium.set_window_size(1280, 1250)           # the whole page: card, unknown names, JSON
    shot = screenshot(chromium, "newsroom.png")
    assert shot.stat().st_size > 10_000
    chromium.execute_script("document.querySelector('.formats').scrollIntoView()")
    data = chromium.find_element(By.CSS_SELECTOR, ".formats")
    wait_for(lambda: "mentions" in data.text, 10, what="the JSON view")
    data.screenshot(str(screenshot_path("newsroom-data.png")))


def test_a_label_that_is_html_is_shown_as_text_and_never_runs(chromium, newsroom):
    from selenium.webdriver.common.by import By
    annotate_draft(chromium, newsroom.url)
    chromium.find_element(By.CSS_SELECTOR, '.mention[data-qid="Q23530"]').click()
    medvedev = card(chromium)
    assert medvedev["label"] == HOSTILE_LABEL
    assert medvedev["description"] == HOSTILE_DESCRIPTION
    screenshot(chromium, "newsroom-hostile-label.png")
    assert chromium.execute_script(
        "return {images: document.images.length, scripts: document.scripts.length,"
        " xss: window.__xss === undefined ? null : window.__xss}") == {
            "images": 0, "scripts": 1, "xss": None}
    # the JSON view shows the same label as text inside the JSON
    wait_for(lambda: chromium.execute_script(
        "return document.getElementById('format-output').textContent.startsWith('{')"), 10,
        what="the JSON view")
    shown = json.loads(chromium.find_element(By.ID, "format-output").text)
    assert shown["entities"]["Q23530"]["label"] == HOSTILE_LABEL
    assert chromium.execute_script("return document.images.length") == 0


@pytest.mark.parametrize("tab, expected", [("webannotation", "TextQuoteSelector"),
                                           ("nif", "nif:isString")])
def test_the_text_as_web_annotation_and_nif(chromium, newsroom, tab, expected):
    from selenium.webdriver.common.by import By
    annotate_draft(chromium, newsroom.url)
    chromium.find_element(By.CSS_SELECTOR, f'[role=tab][data-format="{tab}"]').click()
    text = wait_for(lambda: (t := chromium.find_element(By.ID, "format-output").text)
                    and expected in t and t, 15, what=f"the {tab} view")
    if tab == "nif":
        import rdflib
        graph = rdflib.Graph().parse(data=text, format="turtle")
        its = rdflib.Namespace("http://www.w3.org/2005/11/its/rdf#")
        assert rdflib.URIRef("http://www.wikidata.org/entity/Q7747") in set(
            graph.objects(None, its.taIdentRef))
    else:
        assert "http://www.wikidata.org/entity/Q7747" in text
    assert chromium.execute_script("return document.images.length") == 0
    chromium.execute_script("document.querySelector('.formats').scrollIntoView()")
    chromium.find_element(By.CSS_SELECTOR, ".formats").screenshot(
        str(screenshot_path(f"newsroom-{tab}.png")))

"""The API's in-process answer cache: bounded in bytes, and never an answer of another version.

The version tests run the real app on a private Redis without workers: a result stored in Redis
under a job id is all an annotate hit needs, so what is served shows which key was used.
"""
from __future__ import annotations

import asyncio

import redis as redis_client
from service_fixtures import wait_for

from service.answer_cache import ENTRY_OVERHEAD, AnswerCache
from service.resources import GENERATIONS, KB
from workers import cache, keys
from workers.generations import GenerationWatch, bump_kb_generation, versioned
from workers.jobs import Article

TEXT = "Macron met Scholz in Berlin."


def test_the_least_recently_used_answer_goes_first_once_over_the_byte_bound():
    answers = AnswerCache(max_bytes=16 * (100 + ENTRY_OVERHEAD))
    for i in range(16):
        answers.put(("k", i), f"v{i}", 100)
    assert answers.get(("k", 0)) == "v0"          # now the most recently used
    answers.put(("k", 16), "v16", 100)
    assert answers.get(("k", 1)) is None and answers.get(("k", 0)) == "v0"
    assert answers.bytes <= answers.max_bytes and len(answers) == 16


def test_an_answer_too_big_for_its_share_is_not_kept():
    answers = AnswerCache(max_bytes=1000)
    answers.put(("k",), "big", 900)
    assert answers.get(("k",)) is None and answers.bytes == 0
    off = AnswerCache(max_bytes=0)
    off.put(("k",), "small", 1)
    assert off.get(("k",)) is None


def _annotate(http, api):
    return http.post(f"{api.url}/v1/annotate", json={"text": TEXT})


def _generation_seen(api, generation: int) -> None:
    watch = api.app[GENERATIONS]
    wait_for(lambda: watch.live and watch.kb_generation == generation, 10,
             what=f"the API to see KB generation {generation}")


def test_a_kb_generation_bump_puts_every_remembered_answer_out_of_reach(http, start_redis,
                                                                         start_api):
    redis_server = start_redis()
    api = start_api(REDIS_URL=redis_server.url)
    store = redis_client.Redis.from_url(redis_server.url)
    base = api.app[KB].version
    _generation_seen(api, 0)
    old_job = Article(TEXT).job_id(base)
    store.set(keys.result(old_job), b'{"answer": "base"}')

    first = _annotate(http, api)
    assert first.content == b'{"answer": "base"}' and first.headers["X-Factlink-Job"] == old_job
    store.set(keys.result(old_job), b'{"answer": "changed in Redis"}')
    # the process kept the bytes it served: Redis is not asked again for the same body
    assert _annotate(http, api).content == b'{"answer": "base"}'

    bump_kb_generation(store)
    _generation_seen(api, 1)
    new_job = Article(TEXT).job_id(versioned(base, 1))
    store.set(keys.result(new_job), b'{"answer": "overlay 1"}')
    after = _annotate(http, api)
    assert after.content == b'{"answer": "overlay 1"}' and after.headers["X-Factlink-Job"] == new_job
    assert after.headers["X-Factlink-Cache"] == "hit"


def test_a_refreshed_card_replaces_the_remembered_one_at_once(http, start_redis, start_api):
    redis_server = start_redis()
    api = start_api(REDIS_URL=redis_server.url)
    store = redis_client.Redis.from_url(redis_server.url)
    _generation_seen(api, 0)
    before = http.get(f"{api.url}/v1/entities/Q7184")
    assert http.get(f"{api.url}/v1/entities/Q7184").headers["X-Factlink-Cache"] == "hit"
    refreshed = {**before.json(), "label": "NATO (refreshed)"}
    cache.write_card_refresh(store, "Q7184", None, refreshed, ttl=60,
                             seen=cache.entity_changes(store, ["Q7184"])["Q7184"])
    watch = api.app[GENERATIONS]
    wait_for(lambda: watch.card_generation == 1, 10, what="the card generation")
    after = http.get(f"{api.url}/v1/entities/Q7184")
    assert after.json()["label"] == "NATO (refreshed)"
    assert after.headers["ETag"] != before.headers["ETag"]
    # a browser holding the old ETag gets the new card, not a 304
    revalidated = http.get(f"{api.url}/v1/entities/Q7184",
                           headers={"If-None-Match": before.headers["ETag"]})
    assert revalidated.status_code == 200 and revalidated.json()["label"] == "NATO (refreshed)"


def test_without_its_notices_the_watch_serves_nothing_from_memory(start_redis):
    redis_server = start_redis()

    async def scenario():
        import redis.asyncio as aioredis
        client = aioredis.Redis.from_url(redis_server.url, socket_timeout=1.0)
        watch = GenerationWatch(client, "base")
        await watch.start()
        try:
            for _ in range(100):
                if watch.live:
                    break
                await asyncio.sleep(0.05)
            assert watch.live and watch.kb_version == "base"
            redis_server.stop()
            for _ in range(100):
                if not watch.live:
                    break
                await asyncio.sleep(0.05)
            assert not watch.live
        finally:
            await watch.stop()
            await client.aclose()
    asyncio.run(scenario())


def test_a_worker_reads_the_same_kb_version_the_api_watches(start_redis):
    from workers.generations import kb_version_now
    store = redis_client.Redis.from_url(start_redis().url)
    assert kb_version_now(store, "base") == "base"
    assert bump_kb_generation(store) == 1 and bump_kb_generation(store) == 2
    assert kb_version_now(store, "base") == versioned("base", 2) == "base+o2"

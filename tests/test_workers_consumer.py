"""A solo worker takes link tasks from the queue with its own consumer (``workers.consumer``):
it reads the messages the API, the reaper and the supervisor send, drops what it cannot read
without stopping, and waits out a Redis restart. Real Redis, real workers, the real HTTP app
for the integration tests."""
from __future__ import annotations

import pytest
import redis as redis_client

from service_fixtures import child_pids, settings_for, wait_for
from workers import keys
from workers.celery_app import create_celery
from workers.consumer import BadMessage, read_task
from workers.embedded_redis import EmbeddedRedis
from workers.publish import task_message
from workers.queue import link_tasks
from workers.tasks import LINK_ARTICLE, LINK_BATCH, REFRESH_ENTITIES

ARTICLE = ["0123abcd", {"text": "Macron met Putin."}, "kb-1"]


@pytest.fixture(scope="module")
def celery():
    app = create_celery(settings_for(REDIS_URL="redis://127.0.0.1:1/0"))
    yield app
    app.close()


def test_a_message_the_api_sends_is_read_back_as_its_task_and_arguments(celery):
    assert read_task(task_message(celery, LINK_ARTICLE, ARTICLE, keys.QUEUE, "[...]")) == \
        (LINK_ARTICLE, ARTICLE)
    items = [ARTICLE[:1] + [{"text": f"Text {i}."}] + ARTICLE[2:] for i in range(10)]
    batches = [read_task(message) for message in link_tasks(celery, items)]
    assert [name for name, _args in batches] == [LINK_BATCH, LINK_BATCH]
    assert [item for _name, (chunk,) in batches for item in chunk] == items


@pytest.mark.integration
def test_a_message_sent_by_celery_itself_is_read_too(start_redis):
    # what send_task pushes (the API's refresh) is read as the solo worker's consumer reads it
    redis = start_redis()
    app = create_celery(settings_for(REDIS_URL=redis.url))
    try:
        app.send_task(REFRESH_ENTITIES, args=[["Q90"], None], queue=keys.QUEUE)
    finally:
        app.close()
    item = redis_client.Redis.from_url(redis.url).rpop(keys.QUEUE)
    assert read_task(item) == (REFRESH_ENTITIES, [["Q90"], None])


@pytest.mark.parametrize("item", [
    b"", b"not json", b"[]", b'{"headers": {}}', b'{"headers": {"task": "x"}, "body": "e30="}',
    b'{"headers": {"task": "x"}, "body": "%%%", "properties": {"body_encoding": "base64"}}',
    b'{"headers": {"task": 7}, "body": [[], {}, {}]}',
    b'{"headers": {"task": "x"}, "body": "[{}, {}, {}]"}',
])
def test_an_item_that_is_not_a_task_message_is_refused_with_the_reason(item):
    with pytest.raises(BadMessage, match="not a task message"):
        read_task(item)



@pytest.mark.integration
def test_an_unreadable_queue_item_is_dropped_and_the_worker_links_on(
        http, start_redis, start_worker, start_api):
    redis = start_redis()
    store = redis_client.Redis.from_url(redis.url)
    api = start_api(REDIS_URL=redis.url)
    workers = start_worker(redis.url)
    pids = child_pids(workers.process.pid)
    store.rpush(keys.QUEUE, b"not a task", b'{"headers": {}}')     # the next ones taken
    wait_for(lambda: store.llen(keys.QUEUE) == 0, 10, what="the worker to take the items")

    response = http.post(f"{api.url}/v1/annotate", json={"text": "Macron met Putin."}, timeout=30)
    assert response.status_code == 200, response.text
    assert "Q3052772" in response.json()["entities"]
    assert child_pids(workers.process.pid) == pids          # the same process, not a restart


@pytest.mark.integration
def test_a_solo_worker_links_again_once_redis_is_back(http, tmp_path, start_worker, start_api):
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        api = start_api(REDIS_URL=server.url)
        workers = start_worker(server.url)
        pids = child_pids(workers.process.pid)
        server.stop()
        server = EmbeddedRedis(tmp_path / "redis", port=server.port).start()

        def answered():
            response = http.post(f"{api.url}/v1/annotate", json={"text": "Macron met Putin."},
                                 timeout=30)
            return response if response.status_code == 200 else None
        response = wait_for(answered, 30, interval=0.5, what="an answer once Redis is back")
        assert "Q3052772" in response.json()["entities"]
        assert child_pids(workers.process.pid) == pids
    finally:
        server.stop()

"""The bundled redis-server: starts on a free loopback port, persists across restarts."""
from __future__ import annotations

import redis as redis_client

from workers.embedded_redis import EmbeddedRedis


def test_data_survives_a_restart(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as server:
        assert server.url.startswith("redis://127.0.0.1:")
        redis_client.Redis.from_url(server.url).set("factlink:test", b"kept")
    assert server.process.returncode == 0                # a clean shutdown
    assert (tmp_path / "redis" / "appendonly.aof").is_file()
    with EmbeddedRedis(tmp_path / "redis") as again:
        assert redis_client.Redis.from_url(again.url).get("factlink:test") == b"kept"


def test_two_servers_get_two_ports(tmp_path):
    with EmbeddedRedis(tmp_path / "a") as a, EmbeddedRedis(tmp_path / "b") as b:
        assert a.port != b.port

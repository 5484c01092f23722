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


def test_the_data_dir_and_the_append_only_file_are_private(tmp_path):
    data = tmp_path / "redis"
    data.mkdir(mode=0o755)
    (data / "appendonly.aof").write_bytes(b"")        # left by an older run, world-readable
    (data / "appendonly.aof").chmod(0o644)
    with EmbeddedRedis(data) as server:
        redis_client.Redis.from_url(server.url).set("factlink:test", b"an article text")
    assert data.stat().st_mode & 0o777 == 0o700
    for path in data.iterdir():
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"

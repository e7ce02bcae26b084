"""Three `mastra-ee serve` nodes on one PostgreSQL (issue #14), with and without Redis, on
the embedded default (users, sessions and keys in the database): failure limits hold
across nodes, and a revocation on one node is refused on the others at once although
their auth caches are set to 30 s (only the push can explain it)."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mastra.core.testing.redis import start_redis
from mastra.core.testing.reference import ServeProcess

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PASSWORD = "correct horse battery"
SECRET = "cluster-test-secret-0123456789abcdefghijklmnop"


def _cookie(cookies: httpx.Cookies) -> dict[str, str]:
    """One session's cookies as a header (the clients hold none: each call says whose)."""
    return {"cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


class Node:
    def __init__(self, server: ServeProcess) -> None:
        self.server = server
        self.url = server.url
        self.client = httpx.Client(base_url=server.url, headers={"origin": server.url}, timeout=10)

    def signed_in(self, cookies: httpx.Cookies) -> bool:
        """Through the cached path (an authenticated route; ``/auth/me`` never caches)."""
        r = self.client.get("/api/auth/sessions", headers=_cookie(cookies))
        assert r.status_code in {200, 401}, r.text
        return r.status_code == 200

    def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return self.client.post("/api/auth/credentials/sign-in", json={"email": email, "password": password})


@contextlib.contextmanager
def _cluster(tmp_path: Path, **env: str) -> Iterator[list[Node]]:
    servers: list[ServeProcess] = []
    nodes: list[Node] = []
    try:
        for index in range(3):
            folder = tmp_path / f"node{index}"
            folder.mkdir()
            server = ServeProcess(
                folder,
                {
                    **{k: v for k, v in os.environ.items() if not k.startswith("MASTRA_")},
                    "MASTRA_AUTH_SECRET": SECRET,
                    "MASTRA_AUTH__CACHE_TTL": "30",  # a stale entry would live for 30 s
                    **env,
                },
            )
            servers.append(server.__enter__())
            nodes.append(Node(server))
        yield nodes
    finally:
        for node in nodes:
            node.client.close()
        for server in servers:
            server.stop()


@pytest.fixture(params=["postgres", pytest.param("redis", marks=pytest.mark.redis)])
def cluster(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> Iterator[list[Node]]:
    env = {"MASTRA_DATABASE_URL": postgres_url}
    if request.param == "redis":
        env["MASTRA_REDIS_URL"] = request.getfixturevalue("redis_url")
    with _cluster(tmp_path, **env) as nodes:
        yield nodes


def _sign_up(node: Node, email: str) -> httpx.Cookies:
    r = node.client.post("/api/auth/credentials/sign-up", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return r.cookies


def _refused_within(node: Node, cookies: httpx.Cookies, limit: float) -> float:
    started = time.perf_counter()
    while node.signed_in(cookies):
        assert time.perf_counter() - started < limit, f"{node.url} still serves the revoked session"
        time.sleep(0.005)
    return time.perf_counter() - started


def test_failures_spread_over_three_nodes_are_counted_once(cluster: list[Node]) -> None:
    _sign_up(cluster[0], "owner@example.com")
    # The account window (5 per 300 s): five failures on three nodes fill it everywhere.
    wrong = [cluster[i % 3].sign_in("owner@example.com", "wrong password!").status_code for i in range(5)]
    assert wrong == [401] * 5
    for node in cluster:
        r = node.sign_in("owner@example.com")  # even the right password waits now
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    # The IP window (10 per 60 s): five more failures on other accounts make ten.
    others = [cluster[i % 3].sign_in(f"nobody{i}@example.com", "guess").status_code for i in range(5)]
    assert others == [401] * 5
    for node in cluster:
        r = node.sign_in("somebody@example.com", "another guess")
        assert r.status_code == 429, (node.url, r.text)


def test_a_sign_out_on_one_node_is_refused_on_the_others_at_once(cluster: list[Node]) -> None:
    first, *others = cluster
    latencies: list[float] = []
    for round_ in range(5):
        cookies = _sign_up(first, f"user{round_}@example.com") if round_ == 0 else None
        if cookies is None:
            r = first.sign_in("user0@example.com")
            assert r.status_code == 200, r.text
            cookies = r.cookies
        for node in others:  # warm their caches with the live session
            assert node.signed_in(cookies) and node.signed_in(cookies)
        assert first.client.post("/api/auth/logout", headers=_cookie(cookies)).status_code == 200
        latencies += [_refused_within(node, cookies, 1.0) for node in others]
    print(
        f"\nrefused on the other nodes after: median {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )


def test_a_revoked_api_key_stops_on_every_node(cluster: list[Node]) -> None:
    first, *others = cluster
    cookies = _sign_up(first, "keys@example.com")
    body = {"name": "ci", "scopes": ["*"]}
    r = first.client.post("/api/auth/api-keys", json=body, headers=_cookie(cookies))
    assert r.status_code == 201, r.text
    key, key_id = r.json()["key"], r.json()["apiKey"]["id"]
    bearer = {"authorization": f"Bearer {key}"}
    for node in others:
        for _ in range(2):
            assert node.client.get("/api/auth/api-keys", headers=bearer).status_code == 200
    assert first.client.delete(f"/api/auth/api-keys/{key_id}", headers=_cookie(cookies)).status_code == 200
    for node in others:
        started = time.perf_counter()
        while (r := node.client.get("/api/auth/api-keys", headers=bearer)).status_code == 200:
            assert time.perf_counter() - started < 1.0, "the revoked key still works"
            time.sleep(0.005)
        assert r.status_code == 401 and r.json()["message"] == "The API key has been revoked"


@pytest.mark.redis
def test_a_node_that_loses_the_channel_stops_caching(tmp_path: Path, postgres_url: str) -> None:
    """Redis (the channel) goes away: no node may keep a 30 s cache it can no longer
    trust — a sign-out is refused everywhere at once all the same; when Redis is back
    the nodes reconnect by themselves."""
    redis = start_redis()
    try:
        with _cluster(tmp_path, MASTRA_DATABASE_URL=postgres_url, MASTRA_REDIS_URL=redis.url) as nodes:
            first, *others = nodes
            cookies = _sign_up(first, "lost@example.com")  # sign-up needs the rate limits: Redis up
            for node in others:
                assert node.signed_in(cookies)
            redis.kill()
            time.sleep(3)  # every node notices within about two seconds
            assert first.client.post("/api/auth/logout", headers=_cookie(cookies)).status_code == 200
            for node in others:
                assert not node.signed_in(cookies)  # no cache while the channel is down
            redis = start_redis(port=redis.port)
            deadline = time.monotonic() + 10
            while first.sign_in("lost@example.com").status_code != 200:
                assert time.monotonic() < deadline, "the nodes did not reconnect"
                time.sleep(0.2)
    finally:
        redis.stop()


def test_a_user_disabled_from_the_cli_is_refused_on_every_node(cluster: list[Node]) -> None:
    """The CLI is one more process: its change reaches the nodes' 30 s caches at once."""
    first = cluster[0]
    _sign_up(first, "owner@example.com")
    cookies = _sign_up(first, "member@example.com")
    for node in cluster:
        assert node.signed_in(cookies) and node.signed_in(cookies)
    env = {**first.server.env}
    done = subprocess.run(
        [sys.executable, "-m", "mastra.core.cli", "users", "disable", "member@example.com"],
        env=env,
        cwd=first.server.cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for node in cluster:
        _refused_within(node, cookies, 1.0)

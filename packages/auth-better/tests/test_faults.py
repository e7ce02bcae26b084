"""Faults under load against real ``mastra-ee serve`` processes sharing one PostgreSQL
(issue #14), on the embedded default (Better-Auth-compatible credentials, cookie
sessions on the SQL registry, SQL audit):

* PostgreSQL restarted under load: every answer during the outage is a quick 503 (no
  connection error, no 500: the processes stay up), both nodes answer 200 again by
  themselves, and nothing committed before the outage is lost;
* one of three nodes killed with ``kill -9`` under load: the others keep answering 200,
  sessions created through the dead node keep working, and every sign-in that got its
  200 has its audit event.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from mastra.core.testing.postgres import PostgresServer
from mastra.core.testing.reference import ServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SECRET = "faults-secret-0123456789abcdefghijklmnopqrstuvwxyz"
PASSWORD = "correct horse battery"


@dataclass
class Answer:
    node: str
    kind: str  # "me" or "sign-in"
    started: float
    ended: float
    status: int | None  # None: no HTTP answer (connection error)
    cookies: dict[str, str] = field(default_factory=dict)


class Load:
    """Threads sending authenticated GETs (``/api/auth/me`` with one cookie) and
    sign-ins round-robin over ``nodes`` until stopped; every answer is kept."""

    def __init__(
        self, nodes: dict[str, str], cookie: dict[str, str], emails: list[str], threads: int = 3
    ) -> None:
        self.nodes, self.cookie, self.emails = nodes, cookie, emails
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, index: int) -> None:
        names = list(self.nodes)
        step = index
        while not self._stop.is_set():
            name = names[step % len(names)]
            kind = "sign-in" if (step // len(names)) % 3 == 0 else "me"  # on every node
            step += 1
            self.answers.append(self._send(name, kind, self.emails[step % len(self.emails)]))

    def _send(self, name: str, kind: str, email: str) -> Answer:
        url = self.nodes[name]
        started = time.monotonic()
        try:
            cookies = self.cookie if kind == "me" else None
            with httpx.Client(base_url=url, timeout=10, cookies=cookies) as client:
                if kind == "me":
                    r = client.get("/api/auth/me")
                else:
                    r = client.post(
                        "/api/auth/credentials/sign-in",
                        json={"email": email, "password": PASSWORD},
                        headers={"origin": url},
                    )
        except httpx.HTTPError:
            return Answer(name, kind, started, time.monotonic(), None)
        return Answer(name, kind, started, time.monotonic(), r.status_code, dict(r.cookies))


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTRA_")}
    env.update(
        MASTRA_AUTH_SECRET=SECRET,
        MASTRA_DATABASE_URL=database_url,
        MASTRA_AUTH__RATE_LIMIT__SIGN_UP="1000/3600",
        MASTRA_AUTH__RATE_LIMIT__IP="1000/60",
        MASTRA_AUTH__RATE_LIMIT__ACCOUNT="1000/60",
    )
    return env


def _node(tmp_path: Path, env: dict[str, str]) -> ServeProcess:
    server = ServeProcess(tmp_path, env)
    server.env = env
    return server.__enter__()


def _sign_up(url: str, email: str) -> dict[str, str]:
    r = httpx.post(
        url + "/api/auth/credentials/sign-up",
        json={"email": email, "password": PASSWORD},
        headers={"origin": url},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return dict(r.cookies)


def _sign_in_audits(url: str, owner: dict[str, str]) -> int:
    r = httpx.get(
        url + "/api/audit",
        params={"action": "auth.sign-in", "outcome": "success"},
        cookies=owner,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return int(r.json()["pagination"]["total"])


def _me(url: str, cookie: dict[str, str]) -> httpx.Response:
    return httpx.get(url + "/api/auth/me", cookies=cookie, timeout=10)


def test_postgres_restart_under_load(postgres_server: PostgresServer, tmp_path: Path) -> None:
    database = postgres_server.create_database(f"faults_{uuid.uuid4().hex[:8]}")
    env = {**_env(database), "MASTRA_AUTH__CACHE_TTL": "0"}  # every request reads the database
    nodes = [_node(tmp_path, env), _node(tmp_path, env)]
    try:
        urls = {f"n{i}": node.url for i, node in enumerate(nodes)}
        owner = _sign_up(nodes[0].url, "owner@example.com")
        emails = [f"u{i}@example.com" for i in range(4)]
        for i, email in enumerate(emails):
            _sign_up(nodes[i % 2].url, email)
        with Load(urls, owner, emails) as load:
            time.sleep(2)
            postgres_server.stop_server()
            down = time.monotonic()
            time.sleep(5)
            up = time.monotonic()
            postgres_server.start_server()
            recovered: dict[str, float] = {}
            while len(recovered) < len(nodes) and time.monotonic() - up < 30:
                for name, url in urls.items():
                    if name not in recovered and _me(url, owner).status_code == 200:
                        recovered[name] = time.monotonic() - up
                time.sleep(0.1)
            time.sleep(1)
        answers = load.answers
        assert all(node.process.poll() is None for node in nodes)  # no crash
        assert len(recovered) == len(nodes) and max(recovered.values()) <= 10, recovered
        assert {a.status for a in answers} <= {200, 503}, sorted({a.status for a in answers}, key=str)
        outage = [a for a in answers if a.started >= down and a.ended <= up]
        assert len(outage) >= 10 and {a.status for a in outage} == {503}
        assert max(a.ended - a.started for a in outage) <= 3
        assert {a.kind for a in outage} == {"me", "sign-in"}
        # Nothing committed before the outage is lost: every account signs in, and every
        # sign-in answered 200 has its audit event.
        for email in emails:
            r = httpx.post(
                urls["n1"] + "/api/auth/credentials/sign-in",
                json={"email": email, "password": PASSWORD},
                headers={"origin": urls["n1"]},
                timeout=30,
            )
            assert r.status_code == 200, r.text
        signed_in = sum(1 for a in answers if a.kind == "sign-in" and a.status == 200) + len(emails)
        assert _sign_in_audits(urls["n0"], owner) >= signed_in
        print(f"answers {len(answers)}, outage 503s {len(outage)}, recovered after {recovered}")
    finally:
        for node in nodes:
            node.stop()


def test_kill_9_one_of_three_nodes_under_load(postgres_server: PostgresServer, tmp_path: Path) -> None:
    database = postgres_server.create_database(f"faults_{uuid.uuid4().hex[:8]}")
    env = _env(database)
    nodes = [_node(tmp_path, env) for _ in range(3)]
    try:
        urls = {f"n{i}": node.url for i, node in enumerate(nodes)}
        owner = _sign_up(urls["n1"], "owner@example.com")
        emails = [f"u{i}@example.com" for i in range(4)]
        for email in emails:
            _sign_up(urls["n0"], email)
        # A session created through the node about to die.
        victim_cookie = _sign_up(urls["n0"], "victim@example.com")
        with Load(urls, victim_cookie, emails) as load:
            time.sleep(2)
            nodes[0].process.kill()  # SIGKILL: no shutdown, no flush
            killed = time.monotonic()
            nodes[0].process.wait(timeout=10)
            time.sleep(3)
        answers = load.answers
        survivors = [a for a in answers if a.node != "n0"]
        assert survivors and all(a.status == 200 for a in survivors), {
            (a.node, a.kind, a.status) for a in survivors if a.status != 200
        }
        assert any(a.node != "n0" and a.started > killed for a in answers)
        for name in ("n1", "n2"):
            r = _me(urls[name], victim_cookie)
            assert r.status_code == 200 and r.json()["email"] == "victim@example.com"
        # Sessions created by sign-ins through the dead node work on the others.
        through_dead = [
            a.cookies for a in answers if a.node == "n0" and a.kind == "sign-in" and a.status == 200
        ]
        assert through_dead
        for cookie in through_dead:
            assert _me(urls["n2"], cookie).status_code == 200
        signed_in = sum(1 for a in answers if a.kind == "sign-in" and a.status == 200)
        assert _sign_in_audits(urls["n1"], owner) >= signed_in
        print(f"answers {len(answers)}, sign-ins 200 {signed_in}, through the dead node {len(through_dead)}")
    finally:
        for node in nodes:
            node.stop()

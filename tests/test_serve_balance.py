"""serve's workers share the connections: a worker holding more than its share closes one after a request, and
the client connects again. Counted from outside: which worker process holds each established connection."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import httpx

from .server_process import ServerProcess
from .test_serve_shared import chat_span, otlp

KEY = {"Authorization": "Bearer at-alpha", "Content-Type": "application/json"}
CLIENTS = 8


def _connections_by_worker(server: ServerProcess) -> list[int]:
    """Established TCP connections on the server's port, per worker process (from /proc: socket inodes)."""
    parent = server.process.pid
    children = [int(p) for p in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
    workers = [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]  # not the resource tracker
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == server.port and fields[3] == "01":  # local port, ESTABLISHED
                established.add(fields[9])
    counts = []
    for pid in workers:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        counts.append(len(inodes & established))
    return sorted(counts)


def _round(clients: list[httpx.Client], n: int) -> int:
    """One request from every client at once; how many answers said ``connection: close``."""
    closing = []

    def send(c: int) -> None:
        body = json.dumps(otlp(chat_span(f"{n + 1:016x}{c + 1:016x}", f"{c + 1:08x}{n + 1:08x}")))
        answer = clients[c].post("/v1/traces", content=body, headers=KEY)
        assert answer.status_code == 200, answer.text
        closing.append(answer.headers.get("connection") == "close")

    threads = [threading.Thread(target=send, args=(c,)) for c in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(closing)


def _shared(server: ServerProcess) -> Path:
    """The directory serve's workers publish their counts in."""
    return Path(tempfile.gettempdir()) / f"otel-aitracer-serve-{server.process.pid}-{server.port}"


def _published_counts(server: ServerProcess, until: Callable[[list[int]], bool]) -> list[int]:
    """The counts the workers publish, sorted, once ``until`` holds for them (or after 30 s: what they were then)."""
    deadline = time.monotonic() + 30
    counts: list[int] = []
    while time.monotonic() < deadline:
        shared = _shared(server)
        counts = sorted(int(p.read_bytes() or b"0") for p in shared.iterdir()) if shared.exists() else []
        if until(counts):
            break
        time.sleep(0.1)
    return counts


def test_two_workers_end_up_with_half_the_connections_each_and_nothing_is_lost(tmp_path):
    server = ServerProcess(tmp_path / "balance.db", keys="at-alpha=alpha", workers=2)
    clients = [httpx.Client(base_url=server.url, timeout=30) for _ in range(CLIENTS)]
    try:
        assert len(_published_counts(server, until=lambda counts: len(counts) == 2)) == 2  # else a worker still starting joins after the rounds
        rounds = 0
        for rounds in range(1, 61):  # a round a little slower than the workers refresh their view of each other
            shed = _round(clients, rounds)
            if rounds >= 5 and shed == 0:
                break
            time.sleep(0.3)
        assert _connections_by_worker(server) == [CLIENTS // 2, CLIENTS // 2]
        stored = httpx.get(server.url + "/api/v1/logs?limit=1000", headers=KEY, timeout=30).json()["logs"]
        assert len(stored) == len({(r["trace_id"], r["span_id"]) for r in stored}) == rounds * CLIENTS
    finally:
        for client in clients:
            client.close()
        server.stop()
    assert not _shared(server).exists()  # the workers tidied up


def test_where_the_shared_directory_cannot_be_made_nothing_is_shed_and_nothing_fails(tmp_path, monkeypatch):
    from otel_aitracer.server._balance import Balance

    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_directory))
    balance = Balance(4318)
    for _ in range(5):
        balance.opened()
    assert balance.shed_one() is False
    balance.closed(False)
    balance.close()


def test_a_worker_that_has_accepted_nothing_yet_is_seen_by_its_siblings(tmp_path):
    """A worker publishes its count (0) when it starts, not at its first connection: else, when the first
    connections all land on one worker, that worker sees no sibling and never sheds (CI saw 0 and 8)."""
    server = ServerProcess(tmp_path / "seen.db", keys="at-alpha=alpha", workers=2)
    try:
        counts = _published_counts(server, until=lambda counts: counts == [0, 0])  # once the probe's connection closed
        assert counts == [0, 0]  # two workers, one of which has accepted no connection yet
    finally:
        server.stop()


def test_a_shared_directory_someone_else_made_is_not_used(tmp_path, monkeypatch):
    """The directory's name is guessable (parent pid and port): one made beforehand by another user of the machine,
    writable by others, could hold a link named by this worker's pid to a file the server may write. The worker
    leaves such a directory alone (nothing is shed) and writes through no link."""
    from otel_aitracer.server._balance import Balance

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    victim = tmp_path / "victim"
    victim.write_text("precious")
    planted = tmp_path / f"otel-aitracer-serve-{os.getppid()}-4318"
    planted.mkdir()
    planted.chmod(0o777)
    (planted / str(os.getpid())).symlink_to(victim)
    (planted / "1").write_text("0")  # a sibling that would make this worker shed
    balance = Balance(4318)
    for _ in range(5):
        balance.opened()
    assert balance.shed_one() is False
    balance.close()
    assert victim.read_text() == "precious"
    assert planted.exists()  # not this worker's to remove


def test_a_link_in_place_of_the_shared_directory_is_not_followed(tmp_path, monkeypatch):
    from otel_aitracer.server._balance import Balance

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / f"otel-aitracer-serve-{os.getppid()}-4318").symlink_to(elsewhere)
    balance = Balance(4318)
    balance.opened()
    assert list(elsewhere.iterdir()) == []
    balance.close()

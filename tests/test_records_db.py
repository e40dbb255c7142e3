"""The records database, the same tests on both engines: a SQLite file and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest

from otel_aitracer._destinations._records_db import _clause, _where


@pytest.fixture
def db(records_db):
    return records_db


def rec(span, trace="t1", parent=None, **extra):
    return {"span_id": span, "trace_id": trace, "parent_span_id": parent, "project": "p", "operation": "chat",
            "started_at": f"2026-01-01T00:00:0{span[-1]}Z", **extra}  # fmt: skip


def test_a_span_is_stored_once_per_trace_and_project(db):
    assert db.write([rec("s1"), rec("s2")]) == 2
    assert db.write([rec("s1"), rec("s1", trace="t2")]) == 1  # same span id in another trace is another span
    assert db.write([rec("s1", project="other")]) == 1  # nor can another project's ids make a span a duplicate
    assert db.write([rec("s3"), rec("s4"), rec("s3")]) == 2  # nor is a span twice in one batch stored twice
    assert db.count() == 6 and [r["span_id"] for r in db.query(trace="t1", newest_first=False, projects=["p"])] == ["s1", "s2", "s3", "s4"]
    assert sorted(r["project"] for r in db.query(trace="t1")) == ["other", "p", "p", "p", "p"]


def test_filters_projects_and_limit(db):
    db.write([rec("s1", session_id="a"), rec("s2", session_id="b", project="q"), rec("s3", session_id="a")])
    assert [r["span_id"] for r in db.query(session="a")] == ["s3", "s1"]
    assert [r["span_id"] for r in db.query(projects=["q"])] == ["s2"] and db.query(projects=[]) == []
    assert len(db.query(limit=2)) == 2


def test_deduplication_queries(db):
    db.write([rec("s1", parent="p0"), rec("s2", parent="s1"), rec("s3", parent=None, output=None), rec("s4", parent="s1", project="q")])
    with db.settling({"t1"}) as stored:
        children = stored.pop_children([("p", "t1", "s1", "chat"), ("p", "t1", "s2", "chat")])
        assert {parent: [r["span_id"] for r in popped] for parent, popped in children.items()} == {("p", "s1"): ["s2"]}
        assert stored.pop_calls([("q", "t1", "s1", "chat")]) == {}  # another project's call is never touched
    assert db.count() == 3  # s4, s1's child in project q, stays
    with db.settling({"t1"}) as stored:
        assert set(stored.pop_calls([("p", "t1", "s1", "chat")])) == {("p", "s1")}
    assert db.count() == 2
    with db.settling({"t1"}) as stored:
        assert stored.pop_stream_request(rec("s9", parent=None, project="q", started_at="2026-01-01T00:00:09Z")) is None
        streamed = stored.pop_stream_request(rec("s9", parent=None, started_at="2026-01-01T00:00:09Z"))
    assert streamed["span_id"] == "s3" and db.count() == 1  # a sibling at the root: a NULL parent matches NULL


def test_a_settled_write_inserts_what_settling_returns_in_the_same_transaction(db):
    """What ``settle`` takes from the store and what it returns are one transaction: an error rolls both back."""
    db.write([rec("s1", parent=None)])

    def fold(stored):
        stored.pop_calls([("p", "t1", "s1", "chat")])
        return [rec("s2", parent="s1")]

    assert db.write([rec("s2", parent="s1")], fold) == 1
    assert [r["span_id"] for r in db.query(trace="t1")] == ["s2"]

    def fail(stored):
        stored.pop_calls([("p", "t1", "s2", "chat")])
        raise RuntimeError("settling failed")

    with pytest.raises(RuntimeError):
        db.write([rec("s3", parent="s2")], fail)
    assert [r["span_id"] for r in db.query(trace="t1")] == ["s2"]  # the pop was rolled back with the write



@pytest.mark.parametrize("second", ["the trace alone", "among more traces than get a lock each"])
def test_a_writer_of_a_trace_waits_while_another_settles_it(db, second):
    """Two stores on one database (two serve workers): the second to settle a trace waits until the first's
    transaction ends, whether it names the trace alone or in a batch that takes the lock of all traces."""
    other = type(db)(getattr(db, "dsn", None) or db.path)
    traces = {"t1"} if second == "the trace alone" else {f"{n:032x}" for n in range(1, 1100)} | {"t1"}
    entered, release, order = threading.Event(), threading.Event(), []

    def first():
        with db.settling({"t1"}):
            entered.set()
            release.wait(10)
            order.append("first ends")

    def then():
        with other.settling(traces):
            order.append("second settles")

    holder = threading.Thread(target=first)
    holder.start()
    assert entered.wait(10)
    waiter = threading.Thread(target=then)
    waiter.start()
    time.sleep(0.3)  # room for the second to go ahead, if nothing held it
    release.set()
    holder.join()
    waiter.join()
    other.close()
    assert order == ["first ends", "second settles"]


def test_an_event_meets_its_record_that_another_worker_is_writing_at_that_moment(db):
    """A log event about a span arrives at one worker while another is writing the span's record: the event waits for
    that write to end, then joins the record (it does not stay pending for the sweep)."""
    other = type(db)(getattr(db, "dsn", None) or db.path)
    writing, release, answers = threading.Event(), threading.Event(), []

    def settle(stored):
        writing.set()
        release.wait(10)
        return [rec("s1")]

    writer = threading.Thread(target=lambda: db.write([rec("s1")], settle))
    writer.start()
    assert writing.wait(10)
    attacher = threading.Thread(target=lambda: answers.append(other.attach_events({("p", "t1", "s1"): [{"name": "e"}]}, _add_events, "2026-01-01T00:00:00Z")))
    attacher.start()
    time.sleep(0.3)  # room for the event to go ahead, if nothing held it
    release.set()
    writer.join()
    attacher.join()
    other.close()
    assert answers == [(1, 0)] and [e["name"] for e in db.query(trace="t1")[0]["events"]] == ["e"]

def test_sessions_and_events(db):
    start = {"type": "session_start", "project": "p", "session_id": "s", "timestamp": "2026-01-01T00:00:00Z", "user_id": "u", "metadata": {"a": 1}}
    again = {**start, "timestamp": "2026-01-01T00:05:00Z", "user_id": None}
    end = {"type": "session_end", "project": "p", "session_id": "s", "timestamp": "2026-01-01T00:09:00Z", "metadata": {"a": 2}}
    feedback = {"type": "feedback", "project": "p", "session_id": "s", "timestamp": "2026-01-01T00:01:00Z", "log_id": "s1", "score": 1}
    db.write_events([start, feedback, again, end])
    [session] = db.sessions()
    assert (session["app_user_id"], session["metadata"], session["started_at"], session["ended_at"]) == ("u", {"a": 2}, start["timestamp"], end["timestamp"])
    assert [e["score"] for e in db.session_events(log_id="s1")] == [1]


def _add_events(record, events):
    record.setdefault("events", []).extend(events)


def test_log_events_wait_for_their_record_and_a_sweep_joins_only_what_it_read(db):
    key = ("p", "t1", "s1")
    assert db.attach_events({key: [{"name": "early"}]}, _add_events, "2026-01-01T00:00:00Z") == (0, 1)  # no record yet: pending
    assert db.attach_events({key: [{"name": "late"}]}, _add_events, "2026-01-01T00:10:00Z") == (0, 1)
    db.write([rec("s1")])  # written by another worker, which did not see the pending events
    assert db.sweep_pending(_add_events, expired_before="2025-01-01T00:00:00Z", received_before="2026-01-01T00:05:00Z") == 1
    [record] = db.query(trace="t1")
    assert [e["name"] for e in record["events"]] == ["early"]
    with db.settling({"t1"}) as stored:
        assert stored.take_pending([key]) == {key: [{"name": "late"}]}  # the newer event is still waiting, not lost
    assert db.attach_events({("q", "t1", "s1"): [{"name": "other project"}]}, _add_events, "2026-01-01T00:11:00Z") == (0, 1)


def _settled_sees(db, batch, keys):
    """Which of ``keys`` the settling of ``batch`` finds stored."""
    seen = []
    db.write(batch, lambda stored: seen.append(stored.stored(keys)) or [])
    return seen[0]


def test_a_batch_looks_for_its_traces_records_from_a_day_before_it(db):
    """Folds, stream requests and resends start within seconds of each other: settling reads a trace's records from a
    day before the batch's earliest start, not its whole history (on PostgreSQL, every day's partition)."""
    old, recent = rec("s1", started_at="2026-01-01T10:00:00Z"), rec("s2", started_at="2026-01-03T01:00:00Z")
    db.write([old, recent])
    now = rec("s3", started_at="2026-01-04T09:00:00Z")
    assert _settled_sees(db, [now], [("p", "t1", "s1"), ("p", "t1", "s2")]) == {("p", "t1", "s2")}


def test_a_span_from_last_month_sent_again_is_still_found(db):
    """The day is counted back from the batch's own starts: an old span sent again is still a duplicate."""
    old = rec("s1", started_at="2025-12-01T10:00:00Z")
    db.write([old])
    assert _settled_sees(db, [old], [("p", "t1", "s1")]) == {("p", "t1", "s1")}
    assert db.write([old]) == 0 and db.count() == 1


def test_a_streams_request_is_looked_for_from_a_day_before_its_result(db):
    db.write([rec("s1", output=None, started_at="2026-01-01T10:00:00Z"), rec("s2", output=None, started_at="2026-01-05T10:00:00Z")])
    found = []
    result = rec("s3", started_at="2026-01-05T10:00:03Z")
    db.write([result], lambda stored: found.append(stored.pop_stream_request(result)) or [])
    assert found[0]["span_id"] == "s2" and db.count() == 1  # s2 taken; s1, four days older, left alone
    db.write([result], lambda stored: found.append(stored.pop_stream_request(result)) or [])
    assert found[1] is None and db.count() == 1


def test_only_scored_records_are_in_the_score_index_and_min_score_reads_it(db):
    """Most calls score 0: indexing only the scored ones spares every other insert that index. ``min_score`` above 0
    finds the scored records through it; 0 or below matches every record that has a score, 0 included."""
    db.write([rec("s1", anomaly_score=0), rec("s2", anomaly_score=15), rec("s3"), rec("s4", anomaly_score=120)])
    assert [r["span_id"] for r in db.query(min_score="1")] == ["s4", "s2"]
    assert [r["span_id"] for r in db.query(min_score="100", projects=["p"])] == ["s4"]
    assert [r["span_id"] for r in db.query(min_score="0")] == ["s4", "s2", "s1"]
    assert db.query(min_score="-5", projects=["q"]) == []
    sqlite = type(db).__name__ == "SQLiteStore"
    where, params = _where(["p"], {"min_score": "10"})
    with db._transaction() as tx:
        if sqlite:
            tx.rows("ANALYZE")
            [(entries,)] = tx.rows("SELECT stat FROM sqlite_stat1 WHERE idx = 'records_scored'")
            assert entries.split()[0] == "2"  # the two scored records, not the four
        else:
            tx.rows("SELECT set_config('enable_seqscan', 'off', true)")  # four rows: a scan would win otherwise
            [(definition,)] = tx.rows("SELECT indexdef FROM pg_indexes WHERE indexname = 'records_scored'")
            assert "WHERE (anomaly_score > 0)" in definition
        plan = " ".join(str(row) for row in tx.rows(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + "SELECT record FROM records" + _clause(where), params))
    assert ("records_scored" if sqlite else "project_anomaly_score_idx") in plan  # PostgreSQL: the day's partition of it


def test_a_store_with_the_full_score_index_loses_it_on_open(tmp_path):
    import sqlite3

    from otel_aitracer._destinations._store import SQLiteStore

    SQLiteStore(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("CREATE INDEX records_anomaly ON records (project, anomaly_score)")  # what stores had before
    conn.commit()
    conn.close()
    SQLiteStore(tmp_path / "s.db").close()
    names = {row[0] for row in sqlite3.connect(tmp_path / "s.db").execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "records_scored" in names and "records_anomaly" not in names

"""Sessions: start and end, feedback bound to the session's last response, in the store or at the API."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import openai
import pytest

import otel_aitracer
from otel_aitracer import AITracer
from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer.exceptions import ValidationError

from .fake_aitracer_api import FakeAITracerAPI

USER = [{"role": "user", "content": "What is OpenTelemetry?"}]


@pytest.fixture
def store(tmp_path):
    return SQLiteStore(tmp_path / "r.db")


@pytest.fixture
def tracer(tmp_path):
    t = AITracer(project="support", store=str(tmp_path / "r.db"))
    yield t
    t.shutdown()


@pytest.fixture
def client(tracer, fake_openai):
    return tracer.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))


def feedback_of(store, session_id):
    return [(e["feedback_type"], e["log_id"], e["score"], e["comment"]) for e in store.session_events(session_id) if e["type"] == "feedback"]


def test_feedback_is_bound_to_the_last_response_and_stored(tracer, client, store):
    with tracer.session("s-1", user_id="u-1", metadata={"channel": "web"}) as session:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        client.embeddings.create(model="text-embedding-3-small", input="not a response")  # nothing to rate
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        session.thumbs_up()
        session.feedback("Great response! Reach me at jane@example.com")
        session.rate(4, comment="good")
        session.set_metadata("resolved", True)
    tracer.flush()
    first, _, last = store.query(newest_first=False, session="s-1")
    assert session.last_log_id == last["span_id"] != first["span_id"]
    assert feedback_of(store, "s-1") == [
        ("thumbs_up", last["span_id"], 1, None),
        ("text", last["span_id"], None, "Great response! Reach me at [EMAIL]"),  # redacted like records
        ("rating", last["span_id"], 4, "good"),
    ]
    [stored] = store.sessions()
    assert (stored["project"], stored["session_id"], stored["app_user_id"]) == ("support", "s-1", "u-1")
    assert stored["metadata"] == {"channel": "web", "resolved": True} and stored["ended_at"] >= stored["started_at"]
    assert store.session_events(log_id=last["span_id"])[0]["user_id"] == "u-1"
    assert tracer._processor.stats()["session_events"] == 5  # start, three feedbacks, end


def test_feedback_before_any_call_concerns_the_session(tracer, store):
    with tracer.session("s-2") as session:
        session.thumbs_down(comment="slow")
        tracer.log({"model": "gpt-4o-mini", "provider": "openai"})  # log() is a response too
        session.thumbs_up()
    tracer.flush()
    [logged] = store.query(session="s-2")
    assert feedback_of(store, "s-2") == [("thumbs_down", None, -1, "slow"), ("thumbs_up", logged["span_id"], 1, None)]


@pytest.mark.parametrize(("call", "field"), [(lambda s: s.rate(0), "score"), (lambda s: s.rate(6), "score"), (lambda s: s.rate(True), "score"), (lambda s: s.feedback(3), "text")])
def test_bad_feedback_names_the_field_and_records_nothing(tracer, store, call, field):
    with tracer.session("s-3") as session:
        with pytest.raises(ValidationError) as info:
            call(session)
        assert info.value.field == field and isinstance(info.value, ValueError)  # the SDK raised ValueError
    tracer.flush()
    assert feedback_of(store, "s-3") == [] and session.feedbacks == []


def test_sent_to_the_api_in_order_off_the_application_thread(fake_openai):
    with FakeAITracerAPI() as api:
        tracer = AITracer(api_key="at-test", project="support", base_url=api.base_url, flush_interval=0.05)
        client = tracer.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
        api.hold.clear()  # the API answers nothing until the application is done
        with tracer.session("s/4", user_id="u-4", metadata={"plan": "pro"}) as session:
            client.chat.completions.create(model="gpt-4o-mini", messages=USER)
            session.thumbs_up()
            session.feedback("call me on +1 415 555 2671")
        assert api.requests == []  # everything above returned without waiting for the API
        api.hold.set()
        assert tracer.flush(10)
        tracer.shutdown()
    assert api.paths() == [
        ("POST", "/api/v1/sessions/"),
        ("POST", "/api/v1/logs/batch/"),
        ("POST", "/api/v1/sessions/s%2F4/feedback/"),
        ("POST", "/api/v1/sessions/s%2F4/feedback/"),
        ("PATCH", "/api/v1/sessions/s%2F4/end/"),
    ]
    (_, _, auth, start), (_, _, _, batch), (_, _, _, up), (_, _, _, text), (_, _, _, end) = api.requests
    [record] = batch["logs"]
    assert auth == "Bearer at-test" and start["session_id"] == "s/4" and start["user_id"] == "u-4" and start["project"] == "support"
    assert up["log_id"] == text["log_id"] == record["span_id"] and up["score"] == 1
    assert text["comment"] == "call me on [PHONE]" and end["metadata"] == {"plan": "pro"}


def test_failed_event_delivery_is_counted_and_never_raises(fake_openai):
    with FakeAITracerAPI() as api:
        api.status = 500
        tracer = AITracer(api_key="at-test", base_url=api.base_url, sync=True)
        with tracer.session("s-5") as session:
            session.thumbs_up()
        assert tracer._processor.stats()["dropped"]["rejected"] == 3 and len(api.requests) == 3  # 500 is final: no retry
        tracer.shutdown()


def test_without_content_capture_comments_are_withheld(tmp_path, store):
    tracer = AITracer(store=str(tmp_path / "r.db"), capture_content=False, sync=True)
    with tracer.session("s-6") as session:
        session.feedback("my card is 4111 1111 1111 1111")
        session.event("clicked", data={"button": "retry"})
    assert [(e["type"], e.get("comment"), e.get("data")) for e in store.session_events("s-6")] == [
        ("feedback", None, None), ("event", None, {"redacted": True})
    ]  # fmt: skip
    tracer.shutdown()


def test_disabled_tracer_keeps_feedback_on_the_handle_only(tmp_path, store):
    tracer = AITracer(store=str(tmp_path / "r.db"), enabled=False)
    with tracer.session("s-7") as session:
        session.thumbs_up()
    tracer.shutdown()
    assert [f["feedback_type"] for f in session.feedbacks] == ["thumbs_up"] and store.sessions() == []


def test_register_gives_otel_aitracer_session_the_same_feedback(tmp_path, fake_openai, store):
    pipeline = otel_aitracer.register(project="reg", store=str(tmp_path / "r.db"), sync=True, instrument=["openai"], agents=False)
    try:
        client = openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
        with otel_aitracer.session("s-8", user_id="u-8") as session:
            client.chat.completions.create(model="gpt-4o-mini", messages=USER)
            session.rate(5)
    finally:
        pipeline.shutdown()
    [record] = store.query(session="s-8")
    assert feedback_of(store, "s-8") == [("rating", record["span_id"], 5, None)] and store.sessions()[0]["project"] == "reg"


def test_sessions_and_projects_never_leak_between_threads(tracer, client, store):
    def user_flow(n: int) -> None:
        with tracer.project(f"p{n}"), tracer.session(f"t-{n}", user_id=f"u{n}") as session:
            for _ in range(3):
                client.chat.completions.create(model="gpt-4o-mini", messages=USER)
                session.thumbs_up()

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(user_flow, n)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tracer.flush()
    for n in range(8):
        mine = store.query(newest_first=False, session=f"t-{n}")
        assert {(r["project"], r["app_user_id"]) for r in mine} == {(f"p{n}", f"u{n}")} and len(mine) == 3
        assert [log_id for _, log_id, _, _ in feedback_of(store, f"t-{n}")] == [r["span_id"] for r in mine]


def test_sessions_traces_and_projects_never_leak_between_tasks(tmp_path, fake_openai, store):
    tracer = AITracer(project="async", store=str(tmp_path / "r.db"))
    client = tracer.wrap_openai(openai.AsyncOpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))

    async def user_flow(n: int) -> str:
        with tracer.project(f"p{n}"), tracer.session(f"a-{n}") as session, tracer.trace() as t:
            t.add_tag(f"tag{n}")
            for _ in range(3):
                await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
                await asyncio.sleep(0)
                session.thumbs_down()
            return t.trace_id

    async def main() -> list[str]:
        return await asyncio.gather(*(user_flow(n) for n in range(8)))

    trace_ids = asyncio.run(main())
    tracer.flush()
    assert len(set(trace_ids)) == 8
    for n, trace_id in enumerate(trace_ids):
        mine = store.query(newest_first=False, session=f"a-{n}")
        assert {(r["project"], r["trace_id"], tuple(r["tags"])) for r in mine} == {(f"p{n}", trace_id, (f"tag{n}",))}
        assert [log_id for _, log_id, _, _ in feedback_of(store, f"a-{n}")] == [r["span_id"] for r in mine]
    tracer.shutdown()

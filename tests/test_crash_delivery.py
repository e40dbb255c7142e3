"""A process killed with SIGKILL mid-stream loses nothing it had spooled: the next process sends it.

The child records spans with ``sync=True`` (a span is spooled before ``end()``
returns) and prints each span id once ``end()`` has returned. It is killed at a
moment it does not choose, while the API answers slowly; a second process with
the same destination then sends what was left.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import textwrap
import time

from .fake_aitracer_api import FakeAITracerAPI
from .helpers import ROOT

CHILD = """
import sys
from opentelemetry.sdk.trace import TracerProvider
from otel_aitracer import AITracerSpanProcessor

processor = AITracerSpanProcessor(api_key="at-test", base_url=sys.argv[1], sync=True)
provider = TracerProvider()
provider.add_span_processor(processor)
tracer = provider.get_tracer("crash")
attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}
for n in range(100000):
    span = tracer.start_span(f"chat {n}", attributes=attributes)
    span.end()
    print(format(span.get_span_context().span_id, "016x"), flush=True)
"""

RESTART = """
import sys
from otel_aitracer import AITracerSpanProcessor

processor = AITracerSpanProcessor(api_key="at-test", base_url=sys.argv[1])
assert processor.force_flush(30_000), processor.stats()
print(processor.stats()["sent"])
"""


def _python(code: str, url: str, **kwargs) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), url], env=env, text=True, **kwargs)


def test_sigkill_mid_stream_then_restart_delivers_every_spooled_record():
    with FakeAITracerAPI() as api:
        api.script.extend([(201, {}, 0.002)] * 400)  # a slow API, so the kill lands mid-request too
        child = _python(CHILD, api.base_url, stdout=subprocess.PIPE)
        confirmed = []
        while len(confirmed) < 150:
            confirmed.append(child.stdout.readline().strip())
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        confirmed += [line.strip() for line in child.stdout.read().splitlines() if len(line.strip()) == 16]
        restart = _python(RESTART, api.base_url, stdout=subprocess.PIPE)
        out, _ = restart.communicate(timeout=60)
        assert restart.returncode == 0, out
        time.sleep(0.2)
        received = collections.Counter(r["span_id"] for r in api.delivered())
    missing = set(confirmed) - set(received)
    assert not missing, f"{len(missing)} spooled records never arrived"
    duplicated = [span_id for span_id, n in received.items() if n > 1]
    assert len(duplicated) <= 1  # only the request in flight at the kill may arrive twice (the receiver drops it by span_id)


FORKED = """
import os, sys
from opentelemetry.sdk.trace import TracerProvider
from otel_aitracer import AITracerSpanProcessor

processor = AITracerSpanProcessor(api_key="at-test", base_url=sys.argv[1])   # set up before fork, as gunicorn --preload does
provider = TracerProvider()
provider.add_span_processor(processor)
attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}
children = []
for worker in range(2):
    pid = os.fork()
    if pid == 0:
        for n in range(50):
            provider.get_tracer("w").start_span(f"chat {worker}-{n}", attributes={**attributes, "aitracer.metadata": f'{{"worker": {worker}}}'}).end()
        ok = processor.force_flush(20_000)
        os._exit(0 if ok else 3)
    children.append(pid)
for pid in children:
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
provider.get_tracer("parent").start_span("chat parent", attributes=attributes).end()
assert processor.force_flush(20_000)
print(processor.stats()["sent"])
"""


def test_forked_workers_share_the_spool_and_each_record_arrives_once():
    with FakeAITracerAPI() as api:
        parent = _python(FORKED, api.base_url, stdout=subprocess.PIPE)
        out, _ = parent.communicate(timeout=90)
        assert parent.returncode == 0, out
        time.sleep(0.2)
        received = collections.Counter(r["span_id"] for r in api.delivered())
    assert len(received) == 101 and max(received.values()) == 1  # 2 x 50 from the children, 1 from the parent, none twice

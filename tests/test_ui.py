"""The web UI in a real browser (Debian's chromium driven by Playwright): a store filled by the demo, an Agents SDK
run with a tool and a session with feedback; the tree's nesting, the masked e-mail (never the raw one), App Users
against ``stats --by user --json``, a drawn chart, nothing leaving 127.0.0.1, no console errors, and tenancy
under ``serve``. Screenshots of each page go to ``test-artifacts/``."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer.demo.fake_openai import FakeOpenAIServer

from .browser import ARGS, ARTIFACTS, chromium
from .helpers import ROOT, clean_env, run_python
from .server_process import ServerProcess, free_port
from .test_cli_usability import _AGENT_RUN

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is part of the dev install")

_SESSION = """
import openai, otel_aitracer
pipeline = otel_aitracer.register(store={store!r})
client = openai.OpenAI(base_url={base_url!r}, api_key="k", max_retries=0)
with otel_aitracer.session("sess-feedback", user_id="dana") as session:
    client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "Is it going to rain?"}}])
    session.thumbs_down(comment="too vague")
    session.rate(2)
pipeline.shutdown()
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("ui") / "ui.db")
    demo = subprocess.run([sys.executable, "-m", "otel_aitracer", "demo", "--store", path], capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=120)
    assert demo.returncode == 0, demo.stderr[-2000:]
    with FakeOpenAIServer() as fake:
        for script in (_AGENT_RUN, _SESSION):
            ran = run_python(script.format(store=path, base_url=fake.base_url), timeout=120)
            assert ran.returncode == 0, ran.stderr[-2000:]
    return path


@pytest.fixture(scope="module")
def ui(store):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "otel_aitracer", "ui", "--store", store, "--port", str(port)], cwd=ROOT, env=clean_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/ui/calls", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium(), args=ARGS)
        yield launched
        launched.close()


class Visit:
    """A page that records every request it makes and every console error."""

    def __init__(self, browser) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, url: str, shot: str | None = None):
        answer = self.page.goto(url)
        if shot:
            ARTIFACTS.mkdir(exist_ok=True)
            self.page.screenshot(path=str(ARTIFACTS / f"ui-{shot}.png"), full_page=True)
        return answer

    def close(self) -> None:
        self.page.close()
        assert self.errors == []
        assert [u for u in self.requests if not u.startswith(("http://127.0.0.1:", "data:"))] == []  # nothing leaves this machine


def _trace_of(store: str, operation: str) -> str:
    return next(r["trace_id"] for r in SQLiteStore(store).query() if r.get("operation") == operation)


def test_a_run_is_a_nested_tree_with_timing_bars(ui, store, browser):
    visit = Visit(browser)
    visit.open(f"{ui}/ui/traces/{_trace_of(store, 'invoke_workflow')}", shot="trace")
    page = visit.page
    workflow = page.locator("#tree > details.step")
    assert workflow.count() == 1 and workflow.get_attribute("data-op") == "invoke_workflow"
    agent = workflow.locator(":scope > details.step")
    assert agent.count() == 1 and agent.get_attribute("data-op") == "invoke_agent"
    steps = agent.locator(":scope > details.step")
    assert [steps.nth(i).get_attribute("data-op") for i in range(steps.count())] == ["chat", "execute_tool", "chat"]
    assert page.locator(".bar span").count() == 5
    agent.locator(":scope > summary").click()  # it folds
    assert not steps.first.is_visible()
    visit.close()


def test_runs_list_each_run_once_with_its_totals(ui, store, browser):
    visit = Visit(browser)
    visit.open(f"{ui}/ui/runs", shot="runs")
    page = visit.page
    rows = page.locator("#runs tbody tr")
    traces = [rows.nth(i).get_attribute("data-trace") for i in range(rows.count())]
    stored = {r["trace_id"] for r in SQLiteStore(store).query()}
    assert len(traces) == len(set(traces)) == len(stored)  # one row per run, every run (the demo's included)
    row = f'#runs tr[data-trace="{_trace_of(store, "invoke_workflow")}"]'
    agent_run = page.locator(row)
    assert agent_run.locator(".records").inner_text() == "5" and "Agent workflow" in agent_run.inner_text()
    page.click(f"{row} a")
    assert page.locator("#tree details.step").count() == 5
    visit.close()


def test_the_email_is_masked_never_raw(ui, store, browser):
    masked = [r for r in SQLiteStore(store).query() if "[EMAIL" in json.dumps(r.get("input"))]
    assert masked, "the demo stores a redacted e-mail"
    visit = Visit(browser)
    visit.open(f"{ui}/ui/traces/{masked[0]['trace_id']}", shot="trace-redacted")
    text = visit.page.inner_text("body")
    assert "[EMAIL" in text and "@example.com" not in text
    visit.close()


def test_app_users_match_stats_by_user(ui, store, browser):
    stats = json.loads(subprocess.run([sys.executable, "-m", "otel_aitracer", "stats", "--by", "user", "--store", store, "--json"],
                                      capture_output=True, text=True, cwd=ROOT, env=clean_env()).stdout)  # fmt: skip
    visit = Visit(browser)
    visit.open(f"{ui}/ui/users", shot="users")
    rows = visit.page.locator("#users tbody tr")
    shown = {rows.nth(i).get_attribute("data-user"): (int(rows.nth(i).locator(".requests").inner_text()), int(rows.nth(i).locator(".errors").inner_text()))
             for i in range(rows.count())}  # fmt: skip
    assert shown == {(s["user"] or ""): (s["requests"], s["errors"]) for s in stats}
    assert shown["alice"][0] >= 1 and shown["bob"][1] == 1
    visit.close()


def test_calls_filter_and_a_session_with_its_feedback(ui, browser):
    visit = Visit(browser)
    visit.open(f"{ui}/ui/calls", shot="calls")
    page = visit.page
    page.fill("input[name=user]", "bob")
    page.click("button[type=submit]")
    users = page.locator("#calls tbody tr td:nth-child(12)").all_inner_texts()
    assert users and set(users) == {"bob"}
    visit.open(f"{ui}/ui/sessions/sess-feedback", shot="session")
    feedback = page.locator("#feedback tbody tr").all_inner_texts()
    assert any("thumbs_down" in row and "too vague" in row for row in feedback) and any("rating" in row and "2" in row for row in feedback)
    visit.open(f"{ui}/ui/sessions", shot="sessions")
    assert "sess-feedback" in page.inner_text("#sessions")
    visit.close()


def test_the_charts_are_drawn(ui, browser):
    visit = Visit(browser)
    visit.open(f"{ui}/ui/charts", shot="charts")
    for chart in ("#cost-chart svg", "#latency-chart svg"):
        svg = visit.page.locator(chart)
        assert svg.count() == 1 and svg.bounding_box()["width"] > 200
        assert visit.page.locator(f"{chart} .dots, {chart} .line").count() > 0  # points or lines, not an empty frame
    visit.close()


def test_serve_shows_a_key_only_its_projects(tmp_path, browser):
    keys = "key-a=alpha;key-b=beta"
    server = ServerProcess(tmp_path / "serve.db", keys=keys)
    try:
        base = {"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 3, "output_tokens": 2}
        for key, project in (("key-a", "alpha"), ("key-b", "beta")):
            answer = httpx.post(f"{server.url}/api/v1/logs/batch/", json={"logs": [{**base, "project": project, "app_user_id": f"user-{project}"}]},
                                headers={"Authorization": f"Bearer {key}"})  # fmt: skip
            assert answer.status_code == 200
        beta_trace = httpx.get(f"{server.url}/api/v1/logs", headers={"Authorization": "Bearer key-b"}).json()["logs"][0]["trace_id"]
        visit = Visit(browser)
        page = visit.page
        visit.open(f"{server.url}/ui/calls")
        assert page.url.endswith("/ui/login")  # no key, no pages
        page.fill("input[name=key]", "key-a")
        page.click("button[type=submit]")
        assert page.url.endswith("/ui/calls") and "user-alpha" in page.inner_text("#calls") and "user-beta" not in page.inner_text("body")
        assert visit.open(f"{server.url}/ui/traces/{beta_trace}").status == 404  # another project's trace is not there
        visit.open(f"{server.url}/ui/users", shot="serve-users")
        assert "user-beta" not in page.inner_text("#users")
        visit.errors.clear()  # the 404 page's request is the test's, not an error of the UI
        visit.close()
    finally:
        server.stop()


def test_analyze_run_from_the_trace_page(store, browser, tmp_path):
    """With a provider key set, the trace page has an Analyze run button; the report shows and stays."""
    from .test_analyze import REPORT, CannedReport

    with CannedReport() as model:
        port = free_port()
        env = clean_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=model.base_url)
        process = subprocess.Popen([sys.executable, "-m", "otel_aitracer", "ui", "--store", store, "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(f"{url}/ui/calls", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            visit = Visit(browser)
            trace_id = _trace_of(store, "invoke_workflow")
            visit.open(f"{url}/ui/traces/{trace_id}")
            visit.page.click("#analyze")
            visit.page.wait_for_selector("#report")
            visit.open(f"{url}/ui/traces/{trace_id}", shot="trace-analyzed")  # kept with the run
            report = visit.page.inner_text("#report")
            assert REPORT["summary"] in report and REPORT["fixes"][0] in report
            assert len(model.requests) == 1
            visit.close()
        finally:
            process.terminate()
            process.wait(10)

"""The web UI (SPEC §10): calls and runs with filters, one trace as a collapsible tree with timing bars, sessions
with their feedback, app users, and cost and latency over time; on the local store (``otel-aitracer ui``) and in
``serve`` at ``/ui/`` behind the same keys.

Pages are rendered on the server (Jinja2) from the store's own paging and aggregates, so a store of a million
records costs a page, not the store; the tree folds with ``<details>`` and the charts are SVG drawn by pygal:
the browser runs no script and fetches nothing but this server's stylesheet.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote, urlencode

import pygal
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .._destinations._filters import cursor_text, filter_values, parse_cursor
from .._destinations._records_db import RecordsDB
from .._record_kinds import CRITICAL, RUNS, WORKFLOW
from .._scoring import CODES
from ..cli import _table
from ..cli._records import anomaly, nearest_parents, run_order, tokens

PAGE_SIZE = 50
RUN_SCAN = 500  # records read for a page of runs
CHART_SERIES = 8  # lines per chart: the costliest project and model pairs, then one for the others
CHART_HOURS = 48
_ENV = Environment(loader=PackageLoader("otel_aitracer.ui", "templates"), autoescape=select_autoescape(["html"]))
_ENV.globals.update(critical=CRITICAL, tokens=tokens, anomaly=anomaly, ms=_table.ms, cost=_table.cost, meaning=lambda code: CODES[code].meaning if code in CODES else "")
_ENV.filters["urlencode"] = lambda value: quote(str(value), safe="")
_UI_FILTERS = ("project", "session", "user", "model", "status", "min_score")


@dataclass(frozen=True)
class Access:
    """What a request may see: ``projects`` (None: every project), and who it is, for the header."""

    projects: list[str] | None
    who: str = ""


# A request -> what it may see, or the response that asks it to sign in.
Gate = Callable[[Request], "Access | Response"]


def routes(store: RecordsDB, gate: Gate, root: str = "/ui", analysis: Callable[[str], dict[str, Any]] | None = None,
           login: Callable[[str], bool] | None = None) -> list[BaseRoute]:  # fmt: skip
    """The UI's routes under ``root``; ``analysis(trace_id)`` runs an analysis (the "Analyze run" button, where
    there is one); ``login(key)`` says whether a key is good (serve with keys: a sign-in page)."""
    pages = _Pages(store, gate, root, analysis)
    found: list[BaseRoute] = [
        Route("/", lambda request: RedirectResponse(f"{root}/runs", 303)),
        Route("/runs", pages.gated(pages.runs)),
        Route("/calls", pages.gated(pages.calls)),
        Route("/traces/{trace_id}", pages.gated(pages.trace)),
        Route("/traces/{trace_id}/analyze", pages.gated(pages.analyze), methods=["POST"]),
        Route("/sessions", pages.gated(pages.sessions)),
        Route("/sessions/{session_id}", pages.gated(pages.session)),
        Route("/users", pages.gated(pages.users)),
        Route("/users/{user_id}", pages.gated(pages.user)),
        Route("/charts", pages.gated(pages.charts)),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    if login is not None:
        found.append(Route("/login", _login_page(root, login), methods=["GET", "POST"]))
    return [Mount(root, routes=found)]


COOKIE = "aitracer_key"


def key_of(request: Request) -> str | None:
    """The API key a browser signed in with (a cookie of this path only), or a Bearer header's."""
    header = request.headers.get("authorization", "")
    return request.cookies.get(COOKIE) or (header[7:] if header.lower().startswith("bearer ") else None)


def _login_page(root: str, login: Callable[[str], bool]) -> Callable[[Request], Any]:
    async def page(request: Request) -> Response:
        if request.method == "POST":
            key = str((await request.form()).get("key") or "")
            if login(key):
                answer = RedirectResponse(f"{root}/calls", 303)
                answer.set_cookie(COOKIE, key, httponly=True, samesite="strict", path=root)
                return answer
            return _html("login.html", root, "Sign in", "", {"problem": "that key is not one this server knows"}, 401)
        return _html("login.html", root, "Sign in", "", {})

    return page


class _Pages:
    def __init__(self, store: RecordsDB, gate: Gate, root: str, analysis: Callable[[str], dict[str, Any]] | None) -> None:
        self.store, self.gate, self.root, self.analysis = store, gate, root, analysis

    def gated(self, handler: Callable[[Request, Access], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` for requests the gate lets through, with what they may see; the gate's answer for the others."""

        async def endpoint(request: Request) -> Response:
            access = self.gate(request)
            return access if isinstance(access, Response) else await handler(request, access)

        return endpoint

    def _page(self, request: Request, access: Access, template: str, title: str, values: dict[str, Any], status: int = 200) -> Response:
        return _html(template, self.root, title, request.url.path.removeprefix(self.root), values, status, access.who)

    def _not_found(self, request: Request, access: Access, title: str) -> Response:
        """The same 404 whether a thing does not exist or belongs to a project this access may not see."""
        return self._page(request, access, "calls.html", title, {"records": [], "filters": {}, "next": None, "problem": None}, 404)

    async def calls(self, request: Request, access: Access) -> Response:
        """Every record, newest first, a page at a time."""
        given, problem = self._filters(request)
        records, following = self._read_page(access, given, PAGE_SIZE, request) if problem is None else ([], None)
        return self._page(request, access, "calls.html", "Calls", {"records": records, "filters": given, "next": following, "problem": problem})

    async def runs(self, request: Request, access: Access) -> Response:
        """One row per run (a trace), newest first: its records are read :data:`RUN_SCAN` at a time from the store's
        order, the first :data:`PAGE_SIZE` traces among them kept, and each trace's totals asked of the database."""
        given, problem = self._filters(request)
        records, following = self._read_page(access, given, RUN_SCAN, request) if problem is None else ([], None)
        runs: dict[str, dict[str, Any]] = {}
        for record in records:
            run = runs.get(record["trace_id"])
            if run is None:
                if len(runs) == PAGE_SIZE:
                    break
                run = runs[record["trace_id"]] = {"trace_id": record["trace_id"], "shown": record}
            if record.get("operation") in RUNS or record.get("started_at", "") < run["shown"].get("started_at", ""):
                if run["shown"].get("operation") not in RUNS or record.get("operation") == WORKFLOW:
                    run["shown"] = record  # the run's own record where there is one, else its earliest call on the page
        totals = self.store.run_totals(sorted(runs), access.projects) if runs else {}
        rows = [{**run, **totals.get(trace_id, {})} for trace_id, run in runs.items()]
        return self._page(request, access, "runs.html", "Runs", {"runs": rows, "filters": given, "next": following, "problem": problem})

    def _filters(self, request: Request) -> tuple[dict[str, Any], str | None]:
        given: dict[str, Any] = {name: request.query_params.get(name) or None for name in _UI_FILTERS}
        try:
            filter_values(given)
            parse_cursor(request.query_params.get("cursor"))
        except ValueError as exc:
            return given, str(exc)
        return given, None

    def _read_page(self, access: Access, given: dict[str, Any], size: int, request: Request) -> tuple[list[dict[str, Any]], str | None]:
        blobs, last = self.store.page(size, True, access.projects, parse_cursor(request.query_params.get("cursor")), "time", **given)
        following = urlencode({**{k: v for k, v in given.items() if v}, "cursor": cursor_text(last)}) if last is not None and len(blobs) == size else None
        return [json.loads(blob) for blob in blobs], following

    async def trace(self, request: Request, access: Access) -> Response:
        trace_id = request.path_params["trace_id"].lower()
        try:
            records = self.store.query(trace=trace_id, newest_first=False, projects=access.projects)
        except ValueError:
            records = []
        records = [r for r in records if r["trace_id"] == trace_id]  # a full id only: a prefix is the CLI's convenience
        if not records:  # the same page whether the trace does not exist or belongs to another project
            return self._not_found(request, access, f"No trace {trace_id}")
        report = self._kept_report(trace_id)
        return self._page(request, access, "trace.html", f"Trace {trace_id}", {**_tree(records), "trace_id": trace_id, "report": report,
                                                                      "analysis_available": self.analysis is not None})  # fmt: skip

    def _kept_report(self, trace_id: str) -> dict[str, Any] | None:
        from ..cli._analyze import kept_report

        return kept_report(self.store, trace_id)

    async def analyze(self, request: Request, access: Access) -> Response:
        trace_id = request.path_params["trace_id"].lower()
        visible = self.store.query(trace=trace_id, projects=access.projects, limit=1)
        if self.analysis is None or not visible:
            return self._not_found(request, access, "Analysis is not available here")
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(self.analysis, trace_id)
        return RedirectResponse(f"{self.root}/traces/{trace_id}", 303)

    async def sessions(self, request: Request, access: Access) -> Response:
        listed = self.store.sessions(access.projects, limit=200)[::-1]
        counts = self.store.feedback_counts(sorted({s["session_id"] for s in listed}), access.projects)
        for session in listed:
            session["feedback"] = counts.get(session["session_id"], 0)
        return self._page(request, access, "sessions.html", "Sessions", {"sessions": listed})

    async def session(self, request: Request, access: Access) -> Response:
        session_id = request.path_params["session_id"]
        records = self.store.query(limit=500, newest_first=False, projects=access.projects, session=session_id)
        events = self.store.session_events(session_id, projects=access.projects)
        if not records and not events:
            return self._not_found(request, access, f"No session {session_id}")
        return self._page(request, access, "session.html", f"Session {session_id}", {"records": records, "events": events})

    async def users(self, request: Request, access: Access) -> Response:
        rows = self.store.stats("app_user_id", projects=access.projects, limit=500)
        users = [{"user": row.pop("group"), **row} for row in rows]
        return self._page(request, access, "users.html", "App users", {"users": users})

    async def user(self, request: Request, access: Access) -> Response:
        user_id = request.path_params["user_id"]
        records = self.store.query(limit=PAGE_SIZE, projects=access.projects, user=user_id)
        return self._page(request, access, "calls.html", f"Recent calls of {user_id}", {"records": records, "filters": {"user": user_id}, "next": None, "problem": None})

    async def charts(self, request: Request, access: Access) -> Response:
        since = (datetime.now(timezone.utc) - timedelta(hours=CHART_HOURS)).strftime("%Y-%m-%dT%H")
        points = self.store.timeline(since, access.projects)
        return self._page(request, access, "charts.html", "Cost and latency over time", {
            "hours": CHART_HOURS, "cost_chart": _chart("Cost per hour (USD)", points, "cost"), "latency_chart": _chart("Mean latency (ms)", points, "mean_latency_ms"),
        })  # fmt: skip


def _html(template: str, root: str, title: str, page: str, values: dict[str, Any], status: int = 200, who: str = "") -> HTMLResponse:
    page = "/" + page.strip("/").split("/")[0] if page else ""
    if page in ("/traces",):
        page = "/runs"
    body = _ENV.get_template(template).render(root=root, title=title, page=page, who=who, **values)
    return HTMLResponse(body, status, headers={"Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"})


def _tree(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The trace's records nested as :func:`nearest_parents` says, each with its timing bar's place (percent)."""
    parents = nearest_parents(records)
    starts = {r["span_id"]: datetime.fromisoformat(r["started_at"].replace("Z", "+00:00")) for r in records}
    first = min(starts.values())
    ends = [starts[r["span_id"]] + timedelta(milliseconds=r.get("latency_ms") or 0) for r in records]
    total_ms = max(1.0, (max(ends) - first).total_seconds() * 1000)
    items: dict[str, dict[str, Any]] = {
        r["span_id"]: {"record": r, "children": [], "offset": round((starts[r["span_id"]] - first).total_seconds() * 1000 / total_ms * 100, 2),
                       "width": max(0.3, round((r.get("latency_ms") or 0) / total_ms * 100, 2))}
        for r in records
    }  # fmt: skip
    roots: list[dict[str, Any]] = []
    for r in sorted(records, key=run_order):
        parent = parents[r["span_id"]]
        (items[parent]["children"] if parent is not None else roots).append(items[r["span_id"]])
    costs = [r["cost"] for r in records if isinstance(r.get("cost"), (int, float))]
    return {"roots": roots, "records": records, "duration_ms": total_ms, "total_cost": sum(costs) if costs else None,
            "anomaly_points": sum(r.get("anomaly_score") or 0 for r in records), "pretty": _pretty}  # fmt: skip


def _pretty(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _combined(field: str, values: list[float]) -> float | None:
    """Costs add up; latencies are shown as their mean."""
    if not values:
        return None
    return sum(values) if field == "cost" else sum(values) / len(values)


def _chart(title: str, points: list[dict[str, Any]], field: str) -> str:
    """A line per project and model over the hours, as inline SVG (no script, nothing fetched)."""
    hours = sorted({p["hour"] for p in points})
    chart = pygal.Line(title=title, x_label_rotation=30, show_minor_x_labels=False, height=320, js=[], disable_xml_declaration=True,
                       explicit_size=False, truncate_legend=40, legend_at_bottom=True, legend_at_bottom_columns=2)  # fmt: skip
    chart.x_labels = [h[5:].replace("T", " ") + "h" for h in hours]
    chart.x_labels_major = chart.x_labels[:: max(1, len(hours) // 8)]
    series: dict[str, dict[str, list[float]]] = {}
    weight: dict[str, float] = {}
    for point in points:
        name = f"{point['project']} · {point['model'] or '-'}"
        series.setdefault(name, {}).setdefault(point["hour"], []).append(point[field])
        weight[name] = weight.get(name, 0.0) + point["cost"] + point["calls"] * 1e-9  # the costliest first, then the busiest
    shown = sorted(weight, key=lambda name: -weight[name])[:CHART_SERIES]
    rest = [name for name in weight if name not in shown]
    for name in sorted(shown):
        chart.add(name, [_combined(field, series[name].get(hour, [])) for hour in hours])
    if rest:  # a line for everything else, so the chart stays readable and small on a store with many projects
        chart.add(f"{len(rest)} others", [_combined(field, [v for name in rest for v in series[name].get(hour, [])]) for hour in hours])
    # pygal writes its settings into a <script> even with no script to read them: the page runs none.
    return re.sub(r"<script[^>]*>.*?</script>", "", str(chart.render(is_unicode=True)), flags=re.DOTALL)


def local_app(store: RecordsDB, analysis: Callable[[str], dict[str, Any]] | None = None) -> Any:
    """``otel-aitracer ui``: the pages on a local store, every project (it is the user's own)."""
    from starlette.applications import Starlette

    found = routes(store, lambda request: Access(None, "local store"), analysis=analysis)
    return Starlette(routes=[Route("/", lambda request: RedirectResponse("/ui/runs", 303)), *found])

"""``otel-aitracer analyze RUN``: a model reads a run's steps, in order, with their anomaly codes (content
redacted first), and reports what failed, why, and how to fix it (SPEC §9).

The model is asked through the provider SDK the user has (OpenAI, Anthropic or Gemini; keys and base URLs
from their usual environment variables). That call is itself recorded and priced, under the project
``aitracer-analysis``, and the report is kept with the run in the store.
"""

from __future__ import annotations

from typing import Any, Sequence

import orjson
from opentelemetry.sdk.trace import TracerProvider

from .._config import first_set, resolve_settings
from .._destinations._records_db import RecordsDB
from .._processor import AITracerSpanProcessor
from .._recording._pipeline import make_redactor
from .._scoring import CODES
from .._time import rfc3339
from ..exceptions import ConfigurationError
from ._records import run_order

ANALYSIS_PROJECT = "aitracer-analysis"
KEPT_AS = "run-analysis:"  # + trace id: the report's name in the store
PROVIDERS = {  # provider -> (its key's variables, the default model)
    "openai": (("OPENAI_API_KEY",), "gpt-4o-mini"),
    "anthropic": (("ANTHROPIC_API_KEY",), "claude-sonnet-4-5"),
    "gemini": (("GEMINI_API_KEY", "GOOGLE_API_KEY"), "gemini-2.5-flash"),
}
_CONTENT_CHARS = 1_500  # of each step's input and output sent to the model
_FIELDS = ("summary", "failing_step", "root_cause", "fixes")
INSTRUCTIONS = (
    "You are a reliability engineer reviewing one run of an LLM application. You get its steps in order, each with "
    "its status, error, latency, tokens, cost and anomaly codes (with their meaning), and its redacted input and "
    "output. Find where and why the run went wrong. Reply with a JSON object only, with the keys: "
    '"summary" (two sentences), "failing_step" (the name and index of the step where it first went wrong, or null), '
    '"root_cause" (what caused it, citing the steps and codes), "fixes" (a list of concrete changes).'
)


def analyze(store: RecordsDB, trace_id: str, provider: str | None = None, model: str | None = None) -> dict[str, Any]:
    """Ask a model about the run, keep its report in ``store`` and return it."""
    steps = sorted(store.query(trace=trace_id, newest_first=False), key=run_order)  # in the order they ran
    if not steps:
        raise ConfigurationError(f"no records for run {trace_id}")
    provider = provider or _configured_provider()
    model = model or PROVIDERS[provider][1]
    answer = _ask(store, provider, model, orjson.dumps(run_context(trace_id, steps)).decode())
    report = {**_report_fields(answer), "trace_id": trace_id, "provider": provider, "model": model, "analyzed_at": rfc3339(),
              "steps": len(steps), "anomaly_score": sum(s.get("anomaly_score") or 0 for s in steps)}  # fmt: skip
    store.save_state({KEPT_AS + trace_id: orjson.dumps(report)}, report["analyzed_at"])
    return report


def kept_report(store: RecordsDB, trace_id: str) -> dict[str, Any] | None:
    kept = store.load_state(KEPT_AS + trace_id).get(KEPT_AS + trace_id)
    return orjson.loads(kept) if kept is not None else None


def run_context(trace_id: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """What the model is told: each step's facts and codes, its content redacted again and shortened."""
    redactor = make_redactor(resolve_settings())
    shown = []
    for index, step in enumerate(steps):
        content = {field: _shortened(step.get(field)) for field in ("input", "output")}
        if redactor is not None:
            content = redactor.redact_value(content)
        shown.append({
            "index": index, "name": step.get("name") or step.get("operation"), "operation": step.get("operation"), "model": step.get("model"),
            "agent": step.get("agent_name"), "tool": step.get("tool_name"), "status": step.get("status"), "error": step.get("error_message"),
            "latency_ms": step.get("latency_ms"), "input_tokens": step.get("input_tokens"), "output_tokens": step.get("output_tokens"),
            "cost_usd": step.get("cost"), "anomaly_score": step.get("anomaly_score"),
            "anomaly_codes": [{"code": c, "meaning": CODES[c].meaning} for c in step.get("anomaly_codes") or [] if c in CODES],
            **content,
        })  # fmt: skip
    failed = any(s.get("status") == "error" for s in steps)
    return {"run": {"trace_id": trace_id, "steps": len(steps), "status": "error" if failed else "success",
                    "anomaly_score": sum(s.get("anomaly_score") or 0 for s in steps)}, "steps": shown}  # fmt: skip


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Run {report['trace_id']}: {report['steps']} steps, {report['anomaly_score']} anomaly points",
        f"Summary: {report['summary']}",
        f"Failing step: {report['failing_step'] or '-'}",
        f"Root cause: {report['root_cause']}",
        "Fixes:",
        *(f"  - {fix}" for fix in report["fixes"]),
        f"Analysed by {report['model']} ({report['provider']}) at {report['analyzed_at']}; the call is recorded in project {ANALYSIS_PROJECT}.",
    ]
    return "\n".join(lines)


def configured_provider() -> str | None:
    """The first provider whose API key is set, in the order OpenAI, Anthropic, Gemini; None when none is."""
    return first_set({provider: variables for provider, (variables, _) in PROVIDERS.items()})


def _configured_provider() -> str:
    found = configured_provider()
    if found is None:
        raise ConfigurationError("no model to ask: set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY (or pass --provider)")
    return found


def _ask(store: RecordsDB, provider: str, model: str, context: str) -> str:
    """One call through the provider's SDK, traced by our instrumentor into ``store`` under the analysis project."""
    from .._instrumentors import load_instrumentor

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(AITracerSpanProcessor(project=ANALYSIS_PROJECT, sink=_Borrowed(store), sync=True, flush_on_exit=False))
    instrumentor = load_instrumentor("google_genai" if provider == "gemini" else provider)
    if instrumentor is None:
        raise ConfigurationError(f"the {provider} SDK is not installed: pip install 'otel-aitracer[{provider}]'")
    instrumentor.instrument(tracer_provider=tracer_provider, capture_content=True)
    try:
        return _CALLS[provider](model, context)
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()


class _Borrowed:
    """The command's store, lent to the analysis call's pipeline: written to, but closed by the command."""

    def __init__(self, store: RecordsDB) -> None:
        self._store = store

    def write(self, records: Sequence[dict[str, Any]]) -> object:
        return self._store.write(records)

    def write_events(self, events: Sequence[dict[str, Any]]) -> None:
        self._store.write_events(events)

    def close(self, *_: object) -> None:
        pass


def _openai(model: str, context: str) -> str:
    import openai

    answer = openai.OpenAI(max_retries=2).chat.completions.create(
        model=model, messages=[{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": context}], response_format={"type": "json_object"}
    )  # fmt: skip
    return answer.choices[0].message.content or ""


def _anthropic(model: str, context: str) -> str:
    import anthropic

    answer = anthropic.Anthropic(max_retries=2).messages.create(model=model, max_tokens=2000, system=INSTRUCTIONS, messages=[{"role": "user", "content": context}])
    return "".join(getattr(block, "text", "") for block in answer.content)


def _gemini(model: str, context: str) -> str:
    from google import genai

    client = genai.Client()  # held: a client nothing refers to is closed before its request is sent
    answer = client.models.generate_content(model=model, contents=context, config={"system_instruction": INSTRUCTIONS, "response_mime_type": "application/json"})
    return answer.text or ""


_CALLS = {"openai": _openai, "anthropic": _anthropic, "gemini": _gemini}


def _report_fields(answer: str) -> dict[str, Any]:
    """The model's report; an answer that is not the JSON asked for becomes the summary, as it is."""
    text = answer.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        return {"summary": answer.strip(), "failing_step": None, "root_cause": None, "fixes": []}
    fixes = parsed.get("fixes")
    return {
        "summary": str(parsed.get("summary") or ""),
        "failing_step": None if parsed.get("failing_step") is None else str(parsed["failing_step"]),
        "root_cause": None if parsed.get("root_cause") is None else str(parsed["root_cause"]),
        "fixes": [str(f) for f in fixes] if isinstance(fixes, list) else ([str(fixes)] if fixes else []),
    }


def _shortened(value: Any) -> Any:
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= _CONTENT_CHARS else text[:_CONTENT_CHARS] + f"… ({len(text) - _CONTENT_CHARS} more characters)"



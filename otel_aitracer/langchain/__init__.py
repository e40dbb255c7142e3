"""LangGraph and LangChain runs as OpenTelemetry GenAI spans: LangChain has no OpenTelemetry of its own, so
a callback handler makes the tree the other frameworks make.

- the graph (a run with no parent) → ``invoke_workflow {graph}``, its ``thread_id`` as
  ``gen_ai.conversation.id``;
- a graph node → ``invoke_agent {node}``;
- a chat model call → ``chat {model}`` (usage, response model, messages when content is captured),
  made current while the call runs, so our provider instrumentor inside it adds to it and makes no
  second span (the conventions' rule: the first instrumentation to handle a model call owns it);
- a tool → ``execute_tool {tool}``.

Each of these spans is current while its run runs (what the app opens inside a node nests there), and
stops standing for itself when the run ends, even where LangChain ends it in another task.

Spans are parented by an explicit map of LangChain run ids (concurrent runs never mix); runs that
are neither (LangChain's plumbing: sequences, channel writes) are not spans, and what runs inside
them nests under their nearest span. :func:`install` adds the handler to every LangChain run
(``register()`` does it when the app imports ``langchain_core``).
"""

from __future__ import annotations

from ._handler import AITracerCallbackHandler, install

__all__ = ["AITracerCallbackHandler", "install"]

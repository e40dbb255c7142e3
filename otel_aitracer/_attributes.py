"""The span attributes otel-aitracer writes and reads back, beside the GenAI conventions' own.

Scope stamping writes them, the mapping reads them (in process and in serve, so spans that
arrive through a collector carry the same information), ``AITracer.log()`` and the agents
bridge set some directly.
"""

from __future__ import annotations

PROJECT_ATTRIBUTE = "aitracer.project"
METADATA_ATTRIBUTE = "aitracer.metadata"  # JSON object
TAGS_ATTRIBUTE = "aitracer.tags"
STEP_INDEX = "aitracer.step_index"  # order of a step within its run (run() and the agents bridge set it)
STEP_NAME = "aitracer.step_name"  # the step's name, from step(); the span name otherwise
LOG_INPUT = "aitracer.input"  # AITracer.log() input_data, as given
LOG_OUTPUT = "aitracer.output"  # AITracer.log() output_data, as given
MAX_METADATA_KEYS = 10  # a record keeps at most this many metadata keys

"""OpenTelemetry GenAI instrumentors for the openai, anthropic and google-genai SDKs.

They depend only on the OpenTelemetry API, ``opentelemetry-instrumentation``,
the semantic conventions and ``wrapt``, so they work with any OTel backend.
"""

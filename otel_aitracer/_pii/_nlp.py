"""Person names and street addresses by a language model: Presidio over spaCy.

Optional (``pip install 'otel-aitracer[nlp]'`` plus a spaCy pipeline such as
``python -m spacy download en_core_web_lg``, named by ``nlp_model`` or
:envvar:`AITRACER_PII_NLP_MODEL`); without one the two types are found by rules
(:mod:`._names`). A statistical model costs two to three orders of magnitude
more time per byte than the regular-expression detectors, and hundreds of MB of
memory. Names come from the
model's named entities; street addresses from a Presidio pattern recognizer
(number, capitalised street name, street type), stronger next to context words.
"""

from __future__ import annotations

from typing import Any

from .._fork import new_lock
from ..environment_variables import AITRACER_PII_NLP_MODEL
from ..exceptions import ConfigurationError
from ._findings import Finding
from ._names import PERSON, STREET_ADDRESS

NLP_TYPES: tuple[str, ...] = (PERSON, STREET_ADDRESS)
DEFAULT_MODEL = "en_core_web_lg"
_ENTITIES = {PERSON: "PERSON", STREET_ADDRESS: "STREET_ADDRESS"}
_STREET = (
    r"\b[0-9]{1,6}[A-Za-z]?\s+(?:[A-Z][A-Za-z'.\-]*\s+){0,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Parkway|Pkwy|"
    r"Terrace|Circle|Highway|Hwy|Square|Sq)\b(?:,?\s+(?:Apt|Suite|Unit|#)\.?\s*[A-Za-z0-9\-]{1,8})?"
)
_MIN_SCORE = 0.5


class NLPDetector:
    """Finds ``person`` and ``street_address`` with Presidio's analyzer over a spaCy pipeline."""

    def __init__(self, types: frozenset[str], model: str) -> None:
        self.types = types
        self.model = model
        self._analyzer = _analyzer(self.model)
        self._entities = [_ENTITIES[t] for t in sorted(types)]
        self._types_of = {v: k for k, v in _ENTITIES.items()}
        self._lock = new_lock()  # a spaCy pipeline is not meant to be shared between threads

    def scan(self, text: str) -> list[Finding]:
        with self._lock:
            results = self._analyzer.analyze(text=text, language="en", entities=self._entities, score_threshold=_MIN_SCORE)
        return [Finding(self._types_of[r.entity_type], r.start, r.end) for r in results]


def _analyzer(model: str) -> Any:
    try:
        from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
    except ImportError:
        raise ConfigurationError("person and street_address need the nlp extra: pip install 'otel-aitracer[nlp]'") from None
    try:
        engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
        engine.load()
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot load the spaCy pipeline {model!r} ({exc}); install one, e.g. python -m spacy download {DEFAULT_MODEL}, "
            f"or name another with {AITRACER_PII_NLP_MODEL}"
        ) from None
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    street = Pattern("street address", _STREET, 0.6)
    context = ["address", "street", "live", "lives", "ship", "deliver", "located", "mail", "send"]
    analyzer.registry.add_recognizer(PatternRecognizer(supported_entity="STREET_ADDRESS", patterns=[street], context=context))
    return analyzer

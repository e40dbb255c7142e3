"""The optional NLP types through real Presidio and spaCy.

No statistical spaCy model can be installed offline, so the pipeline here is a
real spaCy pipeline whose entity ruler knows two names: it exercises our whole
path (Presidio's analyzer, its spaCy engine, our street-address recognizer,
types, masks, settings) but not a model's recall on unseen names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_aitracer import PIIRedactor
from otel_aitracer._config import resolve_settings
from otel_aitracer._recording._pipeline import make_redactor
from otel_aitracer.exceptions import ConfigurationError

spacy = pytest.importorskip("spacy", reason="the nlp extra is part of the dev install")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": [{"LOWER": "jane"}, {"LOWER": "doe"}]}, {"label": "PERSON", "pattern": "Taro"}])
    path = tmp_path_factory.mktemp("spacy") / "names"
    nlp.to_disk(path)
    return str(path)


def test_person_and_street_address_are_masked(model: str) -> None:
    redactor = PIIRedactor(types=["email", "person", "street_address"], nlp_model=model)
    text = "Jane Doe lives at 1600 Amphitheatre Parkway, Suite 4 and mails jane@example.com; ask Taro."
    assert redactor.redact(text) == "[PERSON] lives at [STREET_ADDRESS] and mails [EMAIL]; ask [PERSON]."
    assert {f.type for f in redactor.scan(text)} == {"person", "street_address", "email"}


def test_street_address_needs_a_number_a_capitalised_name_and_a_street_type(model: str) -> None:
    redactor = PIIRedactor(types=["street_address"], nlp_model=model)
    assert redactor.scan("we walked down the street and 3 roads") == []
    assert redactor.redact("ship to 221B Baker Street.") == "ship to [STREET_ADDRESS]."


def test_nlp_is_off_by_default() -> None:
    assert not {"person", "street_address"} & PIIRedactor().types


def test_a_missing_model_is_a_configuration_error_that_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="spacy download en_core_web_lg"):
        PIIRedactor(types=["person"], nlp_model=str(tmp_path / "no-such-model"))


def test_the_environment_turns_it_on(monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    monkeypatch.setenv("AITRACER_PII_TYPES", "email,person")
    monkeypatch.setenv("AITRACER_PII_NLP_MODEL", model)
    redactor = make_redactor(resolve_settings())
    assert redactor is not None and redactor.redact("Jane Doe, jane@example.com") == "[PERSON], [EMAIL]"

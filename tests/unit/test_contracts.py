"""The committed contracts match the code, and the examples are valid events."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from pydantic import TypeAdapter, ValidationError

from processor import readme
from processor.contracts import EXAMPLES, SCHEMAS, contract_files
from processor.events import SOURCE_MODELS, SourceKind, event_models


def test_committed_schemas_and_examples_equal_what_the_code_generates() -> None:
    for path, text in contract_files().items():
        assert path.read_text() == text, f"{path} is stale: run `make schemas`"


def test_the_readme_reference_sections_are_up_to_date() -> None:
    current = readme.README.read_text()
    assert readme.render(current, readme.sections()) == current


@pytest.mark.parametrize("kind", list(SourceKind))
def test_every_event_type_has_an_example_valid_for_its_model_and_its_json_schema(
    kind: SourceKind,
) -> None:
    schema = json.loads((SCHEMAS / f"{kind.value}.schema.json").read_text())
    adapter: TypeAdapter[Any] = TypeAdapter(SOURCE_MODELS[kind])
    for event_type in event_models(kind):
        example = EXAMPLES[event_type]
        adapter.validate_python(example)
        jsonschema.validate(example, schema)


def test_an_event_of_one_topic_is_refused_by_another_topics_model_and_schema() -> None:
    call = EXAMPLES["call.queued"]
    schema = json.loads((SCHEMAS / "emails.schema.json").read_text())
    with pytest.raises(ValidationError):
        TypeAdapter(SOURCE_MODELS[SourceKind.EMAILS]).validate_python(call)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(call, schema)


def test_the_config_reference_names_every_setting() -> None:
    table = readme.config_reference()
    for variable in (
        "CCPULSE_KAFKA__BOOTSTRAP_SERVERS",
        "CCPULSE_TOPICS__CALLS",
        "CCPULSE_KAFKA__SASL_PASSWORD",
        "CCPULSE_METRICS_PORT",
    ):
        assert f"`{variable}`" in table

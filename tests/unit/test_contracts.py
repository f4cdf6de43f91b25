"""The committed contracts match the code, and the examples are valid events."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs installed (types-jsonschema)
import pytest
from pydantic import TypeAdapter

from processor import contracts, readme
from processor.contracts import CONTRACTS, EXAMPLES, SCHEMAS, contract_files, stale, write
from processor.events import SOURCE_MODELS, SourceKind, event_models

EVENT_TYPES = [(kind, event_type) for kind in SourceKind for event_type in event_models(kind)]


def committed_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return schema


def test_committed_schemas_and_examples_equal_what_the_code_generates() -> None:
    assert stale() == [], "run `make schemas`"


def test_generated_files_are_sorted_two_space_json_ending_in_a_newline() -> None:
    for path, text in contract_files().items():
        if path.suffix == ".jsonl":
            lines = text.splitlines()
            assert lines == [json.dumps(json.loads(line), sort_keys=True) for line in lines]
        else:
            assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
        assert text.endswith("}\n")


def test_regenerating_gives_the_same_bytes() -> None:
    assert contract_files() == contract_files()


def test_check_names_each_stale_missing_or_orphaned_file_and_write_repairs_them(
    tmp_path: Path,
) -> None:
    schemas, dashboards = tmp_path / "schemas", tmp_path / "dashboards"
    write(schemas, dashboards)
    (schemas / "calls.schema.json").write_text("{}\n")
    (schemas / "examples" / "chats.jsonl").unlink()
    (schemas / "sla-events-v0.schema.json").write_text("{}\n")

    assert sorted((path.name, why) for path, why in stale(schemas, dashboards)) == [
        ("calls.schema.json", "differs from the code"),
        ("chats.jsonl", "is missing"),
        ("sla-events-v0.schema.json", "is no longer generated"),
    ]
    assert len(write(schemas, dashboards)) == 3
    assert stale(schemas, dashboards) == []


def test_the_check_command_fails_and_prints_which_file_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    monkeypatch.setattr(contracts, "SCHEMAS", tmp_path / "schemas")
    # The README has its own test; here only the schema files may decide the outcome.
    monkeypatch.setattr(readme, "main", lambda argv: 0)
    assert contracts.main(["check"]) == 0

    path = tmp_path / "schemas" / "surveys.schema.json"
    path.write_text(path.read_text().replace('"maximum": 10', '"maximum": 11'))
    assert contracts.main(["check"]) == 1
    assert "schemas/surveys.schema.json differs from the code" in capsys.readouterr().err


def test_every_schema_names_its_topic_and_is_a_valid_2020_12_schema() -> None:
    assert {name: c.topic for name, c in CONTRACTS.items() if name in set(SourceKind)} == {
        kind.value: f"cc.{kind.value}" for kind in SourceKind
    }
    for name, contract in CONTRACTS.items():
        schema = committed_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == f"urn:ccpulse:topic:{contract.topic}"
        assert contract.topic in schema["title"]
        assert contract.topic in schema["description"]


def test_every_event_type_of_every_topic_has_exactly_one_example() -> None:
    assert sorted(EXAMPLES) == sorted(event_type for _, event_type in EVENT_TYPES)
    for kind in SourceKind:
        committed = (SCHEMAS / "examples" / f"{kind.value}.jsonl").read_text().splitlines()
        assert [json.loads(line)["type"] for line in committed] == list(event_models(kind))


@pytest.mark.parametrize(("kind", "event_type"), EVENT_TYPES)
def test_each_example_is_valid_for_its_model_and_its_json_schema(
    kind: SourceKind, event_type: str
) -> None:
    example = EXAMPLES[event_type]
    event = TypeAdapter(SOURCE_MODELS[kind]).validate_python(example)
    assert event.occurred_at.utcoffset() is not None
    assert type(event) is event_models(kind)[event_type]
    jsonschema.validate(example, committed_schema(kind.value))


@pytest.mark.parametrize("kind", list(SourceKind))
def test_a_topics_json_schema_refuses_the_examples_of_every_other_topic(kind: SourceKind) -> None:
    validator = jsonschema.Draft202012Validator(committed_schema(kind.value))
    for other, event_type in EVENT_TYPES:
        if other is not kind:
            assert not validator.is_valid(EXAMPLES[event_type]), event_type


def test_the_json_schema_carries_the_models_bounds() -> None:
    validator = jsonschema.Draft202012Validator(committed_schema("surveys"))
    assert not validator.is_valid({**EXAMPLES["survey.nps_answered"], "score": 11})
    assert not validator.is_valid({**EXAMPLES["survey.nps_answered"], "survey_id": ""})


def test_the_readme_reference_sections_are_up_to_date() -> None:
    current = readme.README.read_text()
    assert readme.render(current, readme.sections()) == current


def test_the_config_reference_names_every_setting() -> None:
    table = readme.config_reference()
    for variable in (
        "CCPULSE_KAFKA__BOOTSTRAP_SERVERS",
        "CCPULSE_TOPICS__CALLS",
        "CCPULSE_KAFKA__SASL_PASSWORD",
        "CCPULSE_METRICS_PORT",
    ):
        assert f"`{variable}`" in table

"""The OpenLineage 2-0-2 JSON schema (and facet schemas) the run events must validate
against, vendored unchanged in tests/support/openlineage (Apache License 2.0) so the
tests never depend on a folder outside the repository."""

from pathlib import Path

SPEC_DIR = Path(__file__).with_name("openlineage")
SPEC = SPEC_DIR / "OpenLineage.json"


def run_event_errors(event: object) -> list[str]:
    """Every way ``event`` breaks the 2-0-2 ``RunEvent`` schema (empty when it is valid)."""
    import json

    import jsonschema

    schema = json.loads(SPEC.read_text(encoding="utf-8"))
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(
        {"$ref": "#/$defs/RunEvent", "$defs": schema["$defs"]},
        format_checker=validator_cls.FORMAT_CHECKER,
    )
    return [error.message for error in validator.iter_errors(event)]

"""The README's example of each source kind is a valid process file section."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pipeline_claims import PROCESS_FILE

from rpaml_pipeline.process import parse_process

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_declares_one_valid_source_of_each_kind() -> None:
    section = README.read_text(encoding="utf-8").split("## Streams, object storage")[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert example is not None
    declared = yaml.safe_load(example.group(1))
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.update(declared)
    process = parse_process(yaml.safe_dump(data), PROCESS_FILE)
    kinds = {source.kind for source in process.sources}
    assert kinds == {"inbox", "http", "sql", "redis_stream", "rabbitmq", "nats", "object_store"}
    assert [target.kind for target in process.delivery] == ["warehouse"]

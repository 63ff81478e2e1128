"""Regenerate tandem/api/model_rules.json: the input constraints of every operation tandem
serves, taken from botocore's service models (enums, patterns, lengths, ranges, required
members), so the server checks what AWS checks without needing botocore at runtime.

Run: .venv/bin/python scripts/gen_model_rules.py   (tests/api/test_model_rules.py fails when
the table is stale against the installed botocore)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tandem.api.model_rules import TABLE_PATH, served_operations  # noqa: E402

_CONSTRAINTS = ("min", "max", "pattern", "enum")


def _shape(shape: Any, shapes: dict[str, Any]) -> str:
    if shape.name in shapes:
        return str(shape.name)
    record: dict[str, Any] = {"type": shape.type_name}
    shapes[shape.name] = record
    for key in _CONSTRAINTS:
        if key in shape.metadata:
            record[key] = shape.metadata[key]
    if shape.type_name == "structure":
        record["members"] = {name: _shape(m, shapes) for name, m in shape.members.items()}
        if shape.required_members:
            record["required"] = list(shape.required_members)
    elif shape.type_name == "list":
        record["member"] = _shape(shape.member, shapes)
    elif shape.type_name == "map":
        record["key"] = _shape(shape.key, shapes)
        record["value"] = _shape(shape.value, shapes)
    return str(shape.name)


def build_table() -> dict[str, Any]:
    """The table for the operations tandem serves, from the installed botocore."""
    import botocore.session

    session = botocore.session.get_session()
    table: dict[str, Any] = {}
    for service, operations in sorted(served_operations().items()):
        model = session.get_service_model(service)
        shapes: dict[str, Any] = {}
        inputs = {
            op: _shape(model.operation_model(op).input_shape, shapes) for op in sorted(operations)
        }
        table[service] = {"operations": inputs, "shapes": dict(sorted(shapes.items()))}
    return table


def render(table: dict[str, Any]) -> str:
    return json.dumps(table, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    TABLE_PATH.write_text(render(build_table()))
    print(f"wrote {TABLE_PATH.relative_to(ROOT)}")

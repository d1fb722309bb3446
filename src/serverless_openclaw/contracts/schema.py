"""One JSON Schema document for everything the web client sends or receives.

The browser is typed from this document (web/ generates TypeScript from it), so the pydantic
models stay the single source of truth. Two modes matter:

- what the client *sends* (client frames, the settings it PUTs) is described as input: a field
  with a default may be left out;
- what the client *receives* (server frames, REST records) is described as output: a field whose
  default is not None is always present on the wire (`encode()` drops only None), so it is
  required. Without this the `type` tag of server frames would be optional and TypeScript could
  not narrow the `ServerFrame` union on it.

Models are discovered from the `frames` unions and the `records` module, so a new record or
frame appears in the schema (and the staleness test fails until it is re-exported).
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Final

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import core_schema

from serverless_openclaw.contracts import frames, limits, records

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


class _WireSchema(GenerateJsonSchema):
    """Marks output fields with a non-None default as required (see the module docstring)."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization" and field["type"] != "typed-dict-field":
            inner = field["schema"]
            if inner["type"] == "default":
                return inner.get("default") is not None
            return True
        return super().field_is_required(field, total)


def _record_models() -> list[type[BaseModel]]:
    """Public, concrete models of `records`, in source order."""
    found: list[type[BaseModel]] = []
    for name, value in vars(records).items():
        if name.startswith("_") or not inspect.isclass(value):
            continue
        if not issubclass(value, BaseModel) or value.__module__ != records.__name__:
            continue
        if value.__pydantic_generic_metadata__["parameters"]:
            continue  # Page[T]: exported below for each item type the API returns
        found.append(value)
    return found


def _adapters() -> list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]]:
    entries: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        ("ClientFrame", "validation", TypeAdapter(frames.ClientFrame)),
        ("ServerFrame", "serialization", TypeAdapter(frames.ServerFrame)),
        ("PageConversation", "serialization", TypeAdapter(records.Page[records.Conversation])),
        ("PageMessage", "serialization", TypeAdapter(records.Page[records.Message])),
    ]
    for model in _record_models():
        entries.append((model.__name__, "serialization", TypeAdapter(model)))
    # The body of PUT /api/settings: every field optional.
    entries.append(("UserSettingsUpdate", "validation", TypeAdapter(records.UserSettings)))
    return entries


def _tidy(node: Any) -> Any:
    """Drop per-property titles ("Conversationid"): code generators turn each into a type."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                out[key] = {
                    prop: _tidy({k: v for k, v in spec.items() if k != "title"})
                    for prop, spec in value.items()
                }
            else:
                out[key] = _tidy(value)
        return out
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node


def _rename(defs: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """Move `$defs[old]` to `$defs[new]` and point every reference at the new name."""
    text = json.dumps(defs).replace(f'"#/$defs/{old}"', f'"#/$defs/{new}"')
    moved: dict[str, Any] = json.loads(text)
    moved[new] = {**moved.pop(old), "title": new}
    return moved


def _limits() -> dict[str, int | str]:
    return {
        name: value
        for name, value in vars(limits).items()
        if name.isupper() and isinstance(value, int | str)
    }


def export() -> dict[str, Any]:
    """The schema document: every model under `$defs` by its TypeScript name, plus limits.

    pydantic names defs after the Python class (`Page_Conversation_`, `UserSettings-Input`);
    each root is renamed to the name it was exported under.
    """
    roots, document = TypeAdapter.json_schemas(_adapters(), schema_generator=_WireSchema)
    defs: dict[str, Any] = dict(document.get("$defs", {}))
    for (name, _mode), schema in roots.items():
        target = schema.get("$ref", "").removeprefix("#/$defs/")
        if len(schema) == 1 and target in defs:
            if target != name:
                defs = _rename(defs, target, name)
        else:
            defs[name] = {"title": name, **schema}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "Contracts",
        "description": (
            "Generated from serverless_openclaw.contracts by `serverless-openclaw contracts "
            "export`; do not edit."
        ),
        "x-limits": _limits(),
        "$defs": _tidy(dict(sorted(defs.items()))),
    }


def export_text() -> str:
    """The document as committed: stable key order, two-space indent, trailing newline."""
    return json.dumps(export(), indent=2, ensure_ascii=False) + "\n"

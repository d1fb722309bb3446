"""docs/iam.md as data: one row per role, action and condition, with its resources.

`rows(policies)` reads the synthesized policies (resolved with `policies.PLACEHOLDERS`);
`parse(markdown)` reads the tables of docs/iam.md. A test keeps the two equal, so the page
lists every right a deployment grants — no more, no less — and says why for each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from serverless_openclaw.infra.policies import RolePolicy


@dataclass(frozen=True, order=True)
class Row:
    role: str
    action: str
    resources: tuple[str, ...]
    condition: str = ""
    """Compact JSON of the statement's condition ("" without one)."""


def _condition(condition: Mapping[str, Mapping[str, object]]) -> str:
    if not condition:
        return ""
    return json.dumps(condition, sort_keys=True, separators=(",", ":"))


def rows(policies: Iterable[RolePolicy]) -> list[Row]:
    merged: dict[tuple[str, str, str], set[str]] = {}
    for policy in policies:
        for statement in policy.statements:
            if statement.effect != "Allow":
                continue
            for action in statement.actions:
                key = (policy.name, action, _condition(statement.condition))
                merged.setdefault(key, set()).update(statement.resources)
        for managed in policy.managed_policies:
            name = managed.rsplit("/", 1)[-1]
            merged.setdefault((policy.name, f"managed:{name}", ""), set()).add("*")
    return sorted(
        Row(role, action, tuple(sorted(resources)), condition)
        for (role, action, condition), resources in merged.items()
    )


_SECTION = re.compile(r"^## Role `([^`]+)`", re.MULTILINE)
_CELL_CODE = re.compile(r"`([^`]*)`")


def parse(markdown: str) -> tuple[list[Row], dict[Row, str]]:
    """The rows of every role table of the page, and each row's reason ("why")."""
    found: list[Row] = []
    reasons: dict[Row, str] = {}
    sections = list(_SECTION.finditer(markdown))
    for index, section in enumerate(sections):
        end = sections[index + 1].start() if index + 1 < len(sections) else len(markdown)
        role = section.group(1)
        for line in markdown[section.end() : end].splitlines():
            if not line.startswith("| `"):
                continue
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            action, resources, condition, why = cells[0], cells[1], cells[2], cells[3]
            row = Row(
                role=role,
                action=_CELL_CODE.findall(action)[0],
                resources=tuple(sorted(_CELL_CODE.findall(resources))),
                condition="".join(_CELL_CODE.findall(condition)),
            )
            found.append(row)
            reasons[row] = why
    return sorted(found), reasons


def render_row(row: Row, why: str) -> str:
    resources = "<br>".join(f"`{r}`" for r in row.resources)
    condition = f"`{row.condition}`" if row.condition else ""
    return f"| `{row.action}` | {resources} | {condition} | {why} |"

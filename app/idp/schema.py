"""Keycloak's JSON representations, as field lists extracted from Keycloak 26.7.0's source.

Keycloak rejects unknown keys (Jackson's FAIL_ON_UNKNOWN_PROPERTIES) on realm import and on the Admin REST
API, so a key outside these lists would stop a city's Keycloak from starting or the apply from working.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "keycloak_26_7_fields.json"
ANY_TYPES = {"JsonNode", "Object"}
SCALARS = {"String", "Boolean", "boolean", "Integer", "int", "Long", "long", "Double", "Float"}
_GENERIC = re.compile(r"^(List|Set|Map|MultivaluedHashMap)<(.+)>$")


@dataclass(frozen=True)
class Problem:
    """One problem found in the realm, with the JSON path where it is."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@cache
def classes() -> dict[str, Any]:
    """The field lists, by class name."""
    return dict(json.loads(DATA.read_text())["classes"])


def all_fields(name: str) -> dict[str, str]:
    """Fields of a class including its superclasses."""
    known = classes()
    fields: dict[str, str] = {}
    while name:
        cls = known[name]
        fields = {**cls["fields"], **fields}
        name = cls.get("extends") or ""
    return fields


def _class_name(java_type: str, owner: str) -> str | None:
    known = classes()
    if java_type in known:
        return java_type
    nested = f"{owner}.{java_type}"
    return nested if nested in known else None


def _enum_values(java_type: str, owner: str) -> list[str] | None:
    name: str | None = owner
    while name:
        values = classes()[name].get("enum_values", {}).get(java_type)
        if values:
            return list(values)
        name = classes()[name].get("extends")
    return None


def check(value: Any, java_type: str, path: str, owner: str = "RealmRepresentation") -> list[Problem]:
    """Problems with ``value`` read as ``java_type`` (unknown keys, wrong shapes, unknown enum values)."""
    if java_type in ANY_TYPES or value is None:
        return []
    if java_type.endswith("[]"):
        return check(value, f"List<{java_type[:-2]}>", path, owner)
    generic = _GENERIC.match(java_type)
    if generic:
        kind, inner = generic.groups()
        if kind in ("List", "Set"):
            if not isinstance(value, list):
                return [Problem(path, f"must be a JSON array ({java_type})")]
            return [p for i, item in enumerate(value) for p in check(item, inner, f"{path}[{i}]", owner)]
        value_type = inner.split(",", 1)[1].strip()
        if not isinstance(value, dict):
            return [Problem(path, f"must be a JSON object ({java_type})")]
        if kind == "MultivaluedHashMap":
            value_type = f"List<{value_type}>"
        problems = []
        for key, item in value.items():
            if value_type == "String" and not isinstance(item, str):
                problems.append(Problem(f"{path}.{key}", 'must be a JSON string (Keycloak maps hold strings: "true")'))
            else:
                problems.extend(check(item, value_type, f"{path}.{key}", owner))
        return problems
    if java_type in SCALARS:
        return []
    enum = _enum_values(java_type, owner)
    if enum is not None:
        return [] if value in enum else [Problem(path, f"must be one of {', '.join(enum)}")]
    name = _class_name(java_type, owner)
    if name is None:
        return []
    if not isinstance(value, dict):
        return [Problem(path, f"must be a JSON object ({name})")]
    fields = all_fields(name)
    ignored = set(classes()[name].get("json_ignored", []))
    problems = []
    for key, item in value.items():
        if key in fields:
            problems.extend(check(item, fields[key], f"{path}.{key}", name))
        elif key not in ignored:
            problems.append(Problem(f"{path}.{key}", f"unknown key: {name} has no field {key!r}"))
    return problems


def unknown_keys(document: Any, representation: str = "RealmRepresentation", path: str = "$") -> list[Problem]:
    """Every key in ``document`` that Keycloak's ``representation`` would reject."""
    return check(document, representation, path)

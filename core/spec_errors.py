"""One line for the first error pydantic finds in params.yaml: the setting, its value, what it must be (the
`allowed` words its field states in core/spec.py) and where to fix it; an unknown key gets the nearest known one."""
from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel

from core.config import InputError

FIX = "fix it in params.yaml (or your -S)"
VALUE_ERROR = "Value error, "


def need(ok: bool, key: str, value, wanted: str) -> None:
    """The one-line error of a rule the loader cannot state on one field (pipeline/check.py, check_registered)."""
    if not ok:
        raise InputError(f"{key} is {value!r}; it must be {wanted}; {FIX}")


def explain(error: dict, raw: dict, root: type[BaseModel]) -> str:
    """error: one of ValidationError.errors() of root.model_validate(raw)."""
    error = {**error, "loc": [x for x in error["loc"] if not is_tag(x)]}
    loc = [str(x) for x in error["loc"]]
    if error["type"] == "extra_forbidden":
        known = fields_under(error["loc"][:-1], root)
        near = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean {'.'.join([*loc[:-1], near[0]])}?" if near else f"known: {', '.join(known)}"
        return f"{'.'.join(loc)} is not a setting ({hint}); {FIX}"
    if error["type"] == "missing":
        return f"{'.'.join(loc)} is missing; add it to params.yaml (`git checkout params.yaml` restores the default)"
    key, value = ".".join(loc) or "params.yaml", lookup(raw, error["loc"])
    if error["type"] == "value_error" and error["msg"].startswith(VALUE_ERROR):
        reason = error["msg"][len(VALUE_ERROR):]
        if reason.startswith("@"):  # a rule across sections names the setting it refuses
            key, reason = reason[1:].split(": ", 1)
            value = lookup(raw, key.split("."))
        elif ": " in reason and reason.split(": ")[0].isidentifier():  # a rule of a section names its field
            field, reason = reason.split(": ", 1)
            key, value = f"{key}.{field}", lookup(raw, [*error["loc"], field])
        return f"{key} is {value!r}; it must be {reason}; {FIX}"
    cls, field = field_at(error["loc"], root)
    wanted = (cls.model_fields[field].json_schema_extra or {}).get("allowed") if field else None
    return f"{key} is {value!r}; it must be {wanted or error['msg'].lower().removeprefix('input should be ')}; {FIX}"


def is_tag(part) -> bool:
    """A part of a location that names a validator or a member of a union (`function-after[...]`, `int`), not a
    key of params.yaml."""
    return isinstance(part, str) and ("[" in part or part in ("int", "str", "float", "bool"))


def lookup(raw: Any, loc) -> Any:
    """The value params.yaml gave at a location (None where it gave none)."""
    for part in loc:
        if isinstance(raw, dict) and part in raw:
            raw = raw[part]
        elif isinstance(raw, list) and isinstance(part, int) and part < len(raw):
            raw = raw[part]
        else:
            return None
    return raw


def inner_model(annotation) -> type[BaseModel] | None:
    """The section class of a field's type, or of the values of its dict (None for plain values)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
    return inner[0] if inner else None


def field_at(loc, root: type[BaseModel]) -> tuple[type[BaseModel] | None, str | None]:
    """The section class and the field a location ends on; (cls, None) at a section or an entry's key, (None,
    None) inside a plain value (a list's item, a mapping's value)."""
    cls, field = root, None
    for part in loc:
        if field is not None:  # the previous part named a field: step into its type
            cls, field = inner_model(cls.model_fields[field].annotation), None
        if cls is None:
            return None, None
        if isinstance(part, str) and part in cls.model_fields:
            field = part
    return cls, field


def fields_under(loc, root: type[BaseModel]) -> list[str]:
    """The settings a section at loc has (where an unknown key stands)."""
    cls, field = field_at(loc, root)
    if cls is not None and field is not None:
        cls = inner_model(cls.model_fields[field].annotation)
    return sorted(cls.model_fields) if cls is not None else []

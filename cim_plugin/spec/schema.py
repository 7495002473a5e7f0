"""Field checks of typed records by a schema library (pydantic), with our error wording.

A dataclass states each field's type in its annotations (`PositiveInt`,
`PositiveFloat`, `str`, `bool`); `check_fields` validates an instance against them in
pydantic's strict mode (no bool for a number, no text for a number, no float for an
integer) and turns the first failure into an `InputError` naming the file, the field
and what is expected. The dataclass stays a plain frozen dataclass (`replace`,
`fields`, templates reading its attributes), and its values are never converted.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from cim_plugin.errors import InputError
from cim_plugin.spec.values import show

#: pydantic error type -> what the field expects (the base type of the annotation)
_EXPECTED = {"int_type": "int", "float_type": "float", "string_type": "str",
             "bool_type": "bool"}


@functools.cache
def _schema(cls: type, names: tuple[str, ...] | None = None) -> type[BaseModel]:
    """The schema of `cls`'s fields (`names`: of those fields only, given in the class's
    order)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields: dict[str, Any] = {name: (hints[name], ...)
                              for name in (_field_names(cls) if names is None else names)}
    return create_model(f"{cls.__name__}Schema",
                        __config__=ConfigDict(strict=True, extra="forbid"), **fields)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, listed once per class (`dataclasses.fields` walks the
    class's fields at every call, and a sweep makes thousands of records)."""
    return tuple(f.name for f in dataclasses.fields(cls))


def check_fields(obj: Any, *, what: str = "field", file: str | None = None,
                 prefix: str = "", only: tuple[str, ...] | None = None) -> None:
    """Raise an InputError for the first field of dataclass `obj` its annotation refuses
    (`only`: of these fields, for a copy whose other fields were checked before)."""
    names = _field_names(type(obj))
    if only is not None:
        only = tuple(n for n in names if n in only)
        names = only
    values = {name: getattr(obj, name) for name in names}
    try:
        _schema(type(obj), only).model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"])
        value = values.get(str(err["loc"][0]))
        base = _base_type(type(obj), str(err["loc"][0]))
        if err["type"] in ("greater_than", "greater_than_equal"):
            raise InputError(f"{what} {name} must be positive, got {show(value)}", file=file,
                             field=prefix + name, expected=f"a positive {base}") from None
        raise InputError(f"{what} {name} has the wrong type ({type(value).__name__})",
                         file=file, field=prefix + name,
                         expected=_EXPECTED.get(err["type"], base)) from None


def _base_type(cls: type, name: str) -> str:
    hint = typing.get_type_hints(cls)[name]
    return getattr(hint, "__name__", str(hint))


__all__ = ["check_fields"]

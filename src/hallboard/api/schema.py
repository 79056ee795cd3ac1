"""The management API's schema layer: what every request schema accepts, in one place.

- ``Schema``: ninja's, refusing timestamps whose UTC offset lies beyond
  ±14 h (the widest any time zone uses; PostgreSQL cannot even store some
  beyond ±16 h) with a 422 naming the field, and times of day with a UTC
  offset (``"08:00+05:00"``): a time of day is the school's local time, and
  the database stores none with an offset (SQLite refuses one outright).
  (NUL characters, out-of-range integers and non-finite numbers never reach
  a schema: the body parser, ``hallboard.safejson``, refuses them.)
- ``PatchDict[S]``: a partial update of ``S``. Unlike ninja's, fields keep
  their type and constraints: ``null`` is accepted only where ``S`` accepts
  it (``"body": null`` on an announcement, ``"grades": null`` on a screen are
  a 422, not a database error), and lengths and ranges still apply.
"""

# No `from __future__ import annotations`: pydantic evaluates these annotations.

import copy
import datetime as dt
from typing import Any

import ninja
from ninja import Body
from ninja.patch_dict import ModelToDict
from pydantic import ValidationInfo, create_model, field_validator
from pydantic.fields import FieldInfo

#: The widest UTC offset accepted in a timestamp (UTC+14: Line Islands; UTC-12).
MAX_UTC_OFFSET = dt.timedelta(hours=14)


class Schema(ninja.Schema):
    @field_validator("*", mode="after")
    @classmethod
    def _real_utc_offset(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            offset = value.utcoffset()
            if offset is not None and abs(offset) > MAX_UTC_OFFSET:
                raise ValueError("The UTC offset must be between -14:00 and +14:00.")
        if isinstance(value, dt.time) and value.tzinfo is not None:
            raise ValueError("A time of day is the school's local time: give it without an offset.")
        return value


def _optional(info: FieldInfo) -> FieldInfo:
    """The same field, not required: absent means unchanged (its type still applies to null)."""
    optional = copy.copy(info)
    optional.default = None
    optional.default_factory = None
    optional._attributes_set = {  # what pydantic re-reads when it builds the model
        **{k: v for k, v in info._attributes_set.items() if k != "default_factory"},
        "default": None,
    }
    return optional


class _PatchDict:
    def __getitem__(self, schema_cls: type[ninja.Schema]) -> Any:
        fields: dict[str, Any] = {
            name: (info.annotation, _optional(info))
            for name, info in schema_cls.model_fields.items()
        }
        partial = create_model(f"{schema_cls.__name__}Patch", __base__=schema_cls, **fields)

        class PatchDictSchema(ModelToDict):
            _wrapped_model = partial
            _wrapped_model_dump_params = {"exclude_unset": True}

        return Body[PatchDictSchema]


#: ``PatchDict[SomeSchema]``: the fields sent, validated as ``SomeSchema`` validates them.
PatchDict: Any = _PatchDict()

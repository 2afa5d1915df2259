"""Typed decoding of response bodies (the seed's ``GenericRequest[T]``).

``convert(body, T)`` turns a decoded JSON value into ``T``: dataclasses, msgspec Structs,
TypedDicts, builtins and unions go through :func:`msgspec.convert` (fast, strict, clear errors);
pydantic models through ``T.model_validate`` when pydantic is installed. A body that does not fit
raises :class:`~websocketmq.errors.BadMessage` naming the mismatch.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import msgspec

from .errors import BadMessage

__all__ = ["convert"]

T = TypeVar("T")


def convert(body: Any, tp: type[T]) -> T:
    """Decode ``body`` into ``tp`` or raise BadMessage."""
    validate = getattr(tp, "model_validate", None)
    if validate is not None and callable(validate):  # pydantic v2
        try:
            return cast(T, validate(body))
        except Exception as exc:
            raise BadMessage(f"response does not fit {tp.__name__}: {exc}") from exc
    try:
        return msgspec.convert(body, tp, strict=False)
    except msgspec.ValidationError as exc:
        name = getattr(tp, "__name__", repr(tp))
        raise BadMessage(f"response does not fit {name}: {exc}") from exc

"""The job args protocol: `kind`, JSON encoding and per-type insert options.

A job args object has a `kind` (a class attribute, ClassVar, property or dataclass field) and
is encoded to JSON by, in this order:
- its `to_json()` method (the official `riverqueue` package's protocol), returning JSON object
  text that is then re-encoded as Go writes it;
- its fields, if it is a dataclass (declaration order) or a pydantic v2 model (`model_dump`,
  by alias), without the `kind` field: River never encodes the kind into args.
It may also define `insert_opts()` returning `InsertOpts`, and `kind_aliases`, other kinds
its worker also works (for renamed kinds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from river_core.gojson import (
    InvalidJSONError,
    dataclass_items,
    encode_args,
    is_pydantic_model,
    reencode_json_text,
)
from river_core.insert_opts import InsertOpts, ResolvedInsert, resolve_insert
from river_core.validation import InvalidInsertOptsError, InvalidKindError, validate_kind

__all__ = [
    "JobArgs",
    "JobArgsWithInsertOpts",
    "args_insert_opts",
    "args_kind",
    "args_kind_aliases",
    "args_to_json_bytes",
    "resolve_args_insert",
]


class JobArgs(Protocol):
    """What every job args object has; see the module docstring for how it is encoded."""

    @property
    def kind(self) -> str: ...


@runtime_checkable
class JobArgsWithInsertOpts(Protocol):
    """Job args that give insert options for every job of their type."""

    def insert_opts(self) -> InsertOpts: ...


def args_kind(args: object) -> str:
    """The args' kind, validated with River's kind rules."""
    kind = getattr(args, "kind", None)
    if kind is None:
        raise InvalidKindError(f"{type(args).__name__} has no `kind` attribute")
    return validate_kind(kind)


def args_kind_aliases(args: object) -> tuple[str, ...]:
    """The args' optional `kind_aliases` (instance or class), each a valid kind."""
    aliases = getattr(args, "kind_aliases", None)
    if aliases is None:
        return ()
    if isinstance(aliases, str) or not isinstance(aliases, Sequence):
        raise InvalidKindError("kind_aliases must be a list of kinds")
    return tuple(validate_kind(alias) for alias in aliases)


def args_to_json_bytes(args: object) -> bytes:
    """The args encoded as River stores them (Go `encoding/json` bytes of a JSON object).

    Raises `InvalidJSONError` (field "args") for anything PostgreSQL or River would refuse.
    """
    if isinstance(args, type):
        raise InvalidJSONError("args", f"expected an instance of {args.__name__}, got the class")
    to_json = getattr(args, "to_json", None)
    if callable(to_json):
        text = to_json()
        if not isinstance(text, str | bytes):
            raise InvalidJSONError(
                "args", f"to_json() must return str or bytes, not {type(text).__name__}"
            )
        return reencode_json_text(text)
    if dataclasses.is_dataclass(args) and not isinstance(args, type):
        return encode_args(dict(dataclass_items(args, exclude="kind")))
    if is_pydantic_model(args):
        model_dump = getattr(args, "model_dump")  # noqa: B009 (args is typed `object`)
        dumped: dict[str, Any] = model_dump(mode="python", by_alias=True, exclude={"kind"})
        return encode_args(dumped)
    raise InvalidJSONError(
        "args",
        f"{type(args).__name__} must define to_json() or be a dataclass or pydantic model",
    )


def args_insert_opts(args: object) -> InsertOpts | None:
    """The args' own `insert_opts()`, if they define it."""
    method = getattr(args, "insert_opts", None)
    if not callable(method):
        return None
    opts = method()
    if opts is not None and not isinstance(opts, InsertOpts):
        raise InvalidInsertOptsError(
            "args_opts", f"insert_opts() must return InsertOpts, not {type(opts).__name__}"
        )
    return opts


def resolve_args_insert(
    args: object,
    opts: InsertOpts | None = None,
    *,
    defaults: InsertOpts | None = None,
    now: datetime,
) -> ResolvedInsert:
    """Encode, validate and resolve one job args object with its options (see `resolve_insert`)."""
    return resolve_insert(
        args_kind(args),
        args_to_json_bytes(args),
        opts,
        args_opts=args_insert_opts(args),
        defaults=defaults,
        now=now,
    )

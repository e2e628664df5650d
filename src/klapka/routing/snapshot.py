"""The directory view as JSON, so a process that cannot reach the database (Kamailio's
embedded Python) gets exactly the view the simulator uses. Standard library only.

One generic codec for every frozen dataclass of ``klapka.routing.model``: ``encode`` turns
a value into JSON-able data and ``decode`` builds it back by the declared field types
(``dataclasses.fields`` and ``typing.get_type_hints``), so a new field of a view needs no
codec change. A dataclass is a JSON list of its fields in their order (compact: a
snapshot holds 10,000 extensions, each with a policy per status), except at the top of a
snapshot document (``encode_fields``: the directory, an extension), an object by field
name; a tuple or frozenset is a list (a frozenset sorted, so equal views give equal JSON);
a mapping with string keys an object, any other mapping a list of ``[key, value]`` pairs;
a date or datetime its ISO form.

Kamailio's workers decode an extension's view for each call after a change, so the
decoders are built once per type and are plain closures (no type inspection per value).
"""

from __future__ import annotations

import dataclasses
import marshal
import operator
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from klapka.routing.model import Directory, ExtensionView

T = TypeVar("T")
Codec = Callable[[Any], Any]

_ENCODERS: dict[Any, Codec] = {}
_DECODERS: dict[Any, Codec] = {}


def _same(v: Any) -> Any:
    return v


def _one(name: str) -> Codec:
    """Like ``operator.attrgetter(name)`` of several names: the value in a 1-tuple."""
    return lambda v: (getattr(v, name),)


def _sorted(items: Any) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:  # elements without an order: any order will do
        return list(items)


def _parts(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    origin = typing.get_origin(tp)
    return origin, typing.get_args(tp)


def _encoder(tp: Any) -> Codec:
    found = _ENCODERS.get(tp)
    if found is None:
        found = _ENCODERS[tp] = _make_encoder(tp)
    return found


def _decoder(tp: Any) -> Codec:
    found = _DECODERS.get(tp)
    if found is None:
        found = _DECODERS[tp] = _make_decoder(tp)
    return found


def _optional(tp: Any) -> Any | None:
    """``X`` of ``X | None``; None for any other type."""
    origin, args = _parts(tp)
    if origin in (types.UnionType, typing.Union) and len(args) == 2 and type(None) in args:
        return args[0] if args[1] is type(None) else args[1]
    return None


def _is_value(tp: Any) -> bool:
    """Whether values of ``tp`` are hashable and immutable all the way down (a frozen
    dataclass of such fields, a tuple or frozenset of them, a str, number, date...)."""
    if tp in (str, int, bool, float, date, datetime, type(None)):
        return True
    if dataclasses.is_dataclass(tp):
        params = getattr(tp, "__dataclass_params__", None)
        if params is None or not (params.frozen and params.eq):
            return False
        hints = typing.get_type_hints(tp)
        return all(_is_value(hints[f.name]) for f in dataclasses.fields(tp))
    origin, args = _parts(tp)
    if origin in (types.UnionType, typing.Union, tuple, frozenset):
        return all(a is Ellipsis or _is_value(a) for a in args)
    return False


_FIELDS: dict[Any, tuple[tuple[str, ...], dict[str, Any]]] = {}


def _fields(tp: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """A dataclass's field names and their types (string annotations resolved), once."""
    found = _FIELDS.get(tp)
    if found is not None:
        return found
    found = _FIELDS[tp] = (
        tuple(f.name for f in dataclasses.fields(tp)),
        typing.get_type_hints(tp),
    )
    return found


# Value dataclasses (a status policy, its rules, a destination) recur: the policy of every
# status left at its defaults is one object, shared by thousands of extensions. So each is
# encoded once (by identity: the object is kept with its JSON, its id cannot be reused) and
# each JSON form decoded once (by its marshalled bytes: a worker meets the same policies
# again and again).
MEMO_LIMIT = 20_000


def _make_encoder(tp: Any) -> Codec:
    if tp in (str, int, bool, float, Any):
        return _same
    if tp in (date, datetime):
        return lambda v: v.isoformat()
    if dataclasses.is_dataclass(tp):
        names, hints = _fields(tp)
        values = operator.attrgetter(*names) if len(names) > 1 else _one(names[0])
        encoders = [_encoder(hints[name]) for name in names]
        if not _is_value(tp):
            return lambda v: [e(x) for e, x in zip(encoders, values(v), strict=True)]
        memo: dict[int, tuple[Any, Any]] = {}

        def value_encoder(v: Any) -> Any:
            found = memo.get(id(v))
            if found is not None and found[0] is v:
                return found[1]
            data = [e(x) for e, x in zip(encoders, values(v), strict=True)]
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            memo[id(v)] = (v, data)
            return data

        return value_encoder
    inner = _optional(tp)
    if inner is not None:
        enc = _encoder(inner)
        return lambda v: None if v is None else enc(v)
    origin, args = _parts(tp)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _encoder(args[0])
            return lambda v: [item(x) for x in v]
        each = [_encoder(a) for a in args]
        return lambda v: [e(x) for e, x in zip(each, v, strict=True)]
    if origin in (frozenset, set):
        item = _encoder(args[0])
        return lambda v: _sorted(item(x) for x in v)
    if origin in (Mapping, dict):
        key, value = _encoder(args[0]), _encoder(args[1])
        if args[0] is str:
            return lambda v: {k: value(x) for k, x in v.items()}
        return lambda v: [[key(k), value(x)] for k, x in v.items()]
    raise TypeError(f"no JSON encoding for {tp!r}")


def _make_decoder(tp: Any) -> Codec:
    if tp in (str, int, bool, float, Any):
        return _same
    if tp is datetime:
        return datetime.fromisoformat
    if tp is date:
        return date.fromisoformat
    if dataclasses.is_dataclass(tp):
        build = _builder(tp)
        names, hints = _fields(tp)
        decoders = [_decoder(hints[name]) for name in names]
        if all(d is _same for d in decoders):

            def dataclass_decoder(v: Any) -> Any:
                return build(zip(names, v, strict=True))

        else:

            def dataclass_decoder(v: Any) -> Any:
                return build(
                    zip(
                        names,
                        [x if d is _same else d(x) for d, x in zip(decoders, v, strict=True)],
                        strict=True,
                    )
                )

        if not _is_value(tp):
            return dataclass_decoder
        memo: dict[bytes, Any] = {}
        dumps = marshal.dumps

        def value_decoder(v: Any) -> Any:
            # JSON data as bytes, quickly (no references in marshal version 2: equal data,
            # equal bytes; and different data never gives the same bytes).
            key = dumps(v, 2)
            found = memo.get(key)
            if found is None:
                found = dataclass_decoder(v)
                if len(memo) >= MEMO_LIMIT:
                    memo.clear()
                memo[key] = found
            return found

        return value_decoder
    inner = _optional(tp)
    if inner is not None:
        dec = _decoder(inner)
        return lambda v: None if v is None else dec(v)
    origin, args = _parts(tp)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            if item is _same:
                return tuple
            return lambda v: tuple([item(x) for x in v])
        each = [_decoder(a) for a in args]
        return lambda v: tuple([d(x) for d, x in zip(each, v, strict=True)])
    if origin in (frozenset, set):
        item = _decoder(args[0])
        if item is _same:
            return frozenset
        return lambda v: frozenset([item(x) for x in v])
    if origin in (Mapping, dict):
        key, value = _decoder(args[0]), _decoder(args[1])

        def mapping_decoder(v: Any) -> dict[Any, Any]:
            # An object, or a list of [key, value] pairs (keys that are not strings).
            pairs = v.items() if isinstance(v, dict) else v
            return {key(k): value(x) for k, x in pairs}

        return mapping_decoder
    raise TypeError(f"no JSON decoding for {tp!r}")


def _builder(tp: Any) -> Callable[[Iterable[tuple[str, Any]]], Any]:
    """Makes a ``tp`` of (field, value) pairs without calling its __init__ (a frozen
    dataclass sets each field through object.__setattr__, several times slower): so only
    for dataclasses without __post_init__, slots or fields outside __init__."""
    cls: Any = tp
    assert all(f.init for f in dataclasses.fields(cls)), f"{tp}: a field outside __init__"
    assert not hasattr(cls, "__post_init__") and "__slots__" not in vars(cls), tp
    new = object.__new__

    def build(pairs: Iterable[tuple[str, Any]]) -> Any:
        obj = new(cls)
        obj.__dict__.update(pairs)
        return obj

    return build


def encode(value: Any) -> Any:
    """A routing-model dataclass as JSON-able data (a list of its fields, encoded)."""
    return _encoder(type(value))(value)


def decode(cls: type[T], data: Any) -> T:
    """``data`` from ``encode`` back as a ``cls``."""
    made: T = _decoder(cls)(data)
    return made


_FIELD_ENCODERS: dict[Any, list[tuple[str, Codec]]] = {}
_FIELD_DECODERS: dict[Any, tuple[list[tuple[str, Codec]], Callable[..., Any]]] = {}


def _field_encoders(tp: Any) -> list[tuple[str, Codec]]:
    found = _FIELD_ENCODERS.get(tp)
    if found is None:
        names, hints = _fields(tp)
        found = _FIELD_ENCODERS[tp] = [(name, _encoder(hints[name])) for name in names]
    return found


def _field_decoders(tp: Any) -> tuple[list[tuple[str, Codec]], Callable[..., Any]]:
    found = _FIELD_DECODERS.get(tp)
    if found is None:
        names, hints = _fields(tp)
        decoders = [(name, _decoder(hints[name])) for name in names]
        found = _FIELD_DECODERS[tp] = (decoders, _builder(tp))
    return found


def encode_fields(value: Any) -> dict[str, Any]:
    """Like ``encode``, but an object by field name at the top (for the snapshot's
    documents: readable, and a reader may replace one field)."""
    return {name: enc(getattr(value, name)) for name, enc in _field_encoders(type(value))}


def decode_fields(cls: type[T], data: Mapping[str, Any]) -> T:
    """``data`` from ``encode_fields`` back as a ``cls``."""
    decoders, build = _field_decoders(cls)
    made: T = build(
        [(name, data[name] if dec is _same else dec(data[name])) for name, dec in decoders]
    )
    return made


def to_json(d: Directory) -> dict[str, Any]:
    return encode_fields(d)


def from_json(v: dict[str, Any]) -> Directory:
    return decode_fields(Directory, v)


# number -> (view, its JSON data): a full snapshot re-encodes only the views that changed
# (the directory view reuses the view object of an unchanged extension).
_EXTENSIONS: dict[str, tuple[ExtensionView, dict[str, Any]]] = {}


def extension_to_json(e: ExtensionView) -> dict[str, Any]:
    """One extension's view, for a snapshot that stores extensions one by one (the same
    data for the same view object: not to be changed by the caller)."""
    cached = _EXTENSIONS.get(e.number)
    if cached is not None and cached[0] is e:
        return cached[1]
    data = encode_fields(e)
    _EXTENSIONS[e.number] = (e, data)
    return data


def extension_from_json(v: dict[str, Any]) -> ExtensionView:
    return decode_fields(ExtensionView, v)

"""Evaluator for the subset of AWS IoT Core topic-rule SQL (version 2016-03-23) the local runtime emulates.

The local stack subscribes to a real MQTT broker and runs every message through each rule's
:class:`TopicRuleSql`: does the rule fire, and what JSON object does its action receive?

Supported subset (keywords and function names are case-insensitive, field names case-sensitive):

* ``SELECT``: ``*`` (the payload object's top-level fields), field references ``a`` / ``a.b.c``, literals
  (``'single-quoted'``, numbers, ``true``, ``false``, ``null``), ``topic()``, ``topic(n)`` (1-based level),
  ``clientid()``, ``timestamp()`` (epoch ms), ``newuuid()`` and the boolean expressions of the WHERE
  grammar, each with an optional ``AS alias``. Without one, a field reference is keyed by its last path
  segment and a function by its name (``topic(2)`` -> ``"topic"``); any other item needs an alias. Later
  items override earlier keys; an Undefined value (missing field, ``topic(9)`` of a shorter topic) is omitted.
* ``FROM 'topic/filter'``: required, single-quoted MQTT filter with ``+`` / ``#`` wildcards.
* ``WHERE`` (optional, evaluated before SELECT): ``= <> != < <= > >=``, ``AND``, ``OR``, ``NOT``,
  parentheses, ``IS [NOT] NULL``, ``IS [NOT] UNDEFINED``. The rule fires only if the result is true.

Semantics follow the AWS operator tables where they overlap: an Undefined operand makes a comparison
Undefined, which a WHERE clause treats as false (the rule does not fire); ``= <> !=`` are type-strict deep
comparisons (``1 = 1.0`` but ``1 <> '1'`` and ``true <> 1``); ``< <= > >=`` compare numbers (numeric
strings converted) and are Undefined for anything else; ``AND``/``OR``/``NOT`` take booleans or the strings
``'true'``/``'false'`` (anything else is Undefined) with three-valued logic: ``true OR Undefined`` is true,
``false AND Undefined`` is false, ``NOT Undefined`` is Undefined (so ``NOT a = 1`` does not fire when ``a``
is missing); ``IS [NOT] NULL`` of an Undefined value is Undefined. As in SQL 2016-03-23, whole-number
decimals such as ``10.0`` are processed as the integer ``10`` (payload and SQL alike).

Everything else (CASE, JOIN, GROUP BY, IN, LIKE, subqueries, arithmetic, ``a[0]``, other functions,
``SELECT VALUE``, double quotes, ...) raises :class:`UnsupportedSqlError` at parse time, never on evaluate.
"""

from __future__ import annotations

import json
import operator
import re
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple


class UnsupportedSqlError(ValueError):
    """The SQL uses something outside the supported subset, or is malformed."""


class RuleEvaluationError(ValueError):
    """The rule cannot be evaluated for this message (e.g. the payload is not a JSON object)."""


_UNDEFINED: Any = object()  # AWS "Undefined": the value of a missing field; never serialized
_FUNCTIONS = ("topic", "clientid", "timestamp", "newuuid")
_RESERVED = {"SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "IS", "CASE", "WHEN", "EXISTS", "DISTINCT"}
_BAD_CHARS = {
    "[": "array index or array literal",
    "{": "object literal",
    "`": "backtick identifier",
    '"': "double quotes (use single quotes)",
    "$": "substitution template",
    ";": "multiple statements",
    "'": "unterminated string literal",
}
_TOKEN_RE = re.compile(
    r"(?P<ws>\s+)|(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<string>'[^']*')|(?P<op><>|!=|<=|>=|=|<|>)|(?P<punct>[(),.*])|(?P<arith>[-+/%|])"
)
_NUMERIC_STRING_RE = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _validate_filter(topic_filter: str) -> None:
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if ("#" in level and (level != "#" or i != len(levels) - 1)) or ("+" in level and level != "+"):
            raise ValueError(f"invalid MQTT topic filter {topic_filter!r}")
    if not topic_filter or "\0" in topic_filter:
        raise ValueError(f"invalid MQTT topic filter {topic_filter!r}")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching. Raises ValueError for an invalid filter or a topic name holding wildcards."""
    _validate_filter(topic_filter)
    if not topic or "+" in topic or "#" in topic:
        raise ValueError(f"invalid MQTT topic name {topic!r}")
    if topic.startswith("$") and topic_filter[0] in "+#":
        return False
    filter_levels, topic_levels = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True  # '#' also matches the parent level: 'a/#' matches 'a'
        if i >= len(topic_levels) or level not in ("+", topic_levels[i]):
            return False
    return len(filter_levels) == len(topic_levels)


def _json_number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


# --- Syntax tree -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _Field:
    path: tuple[str, ...]


@dataclass(frozen=True)
class _Func:
    name: str  # one of _FUNCTIONS
    level: int | None = None  # topic(n)


@dataclass(frozen=True)
class _Binary:
    op: str  # = <> < <= > >= AND OR
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Unary:
    op: str  # NOT, IS NULL, IS NOT NULL, IS UNDEFINED, IS NOT UNDEFINED
    operand: _Node


_Node = _Literal | _Field | _Func | _Binary | _Unary
_SelectItem = tuple[str, _Node] | None  # (output key, expression), or None for '*'


@dataclass(frozen=True)
class _Query:
    select: tuple[_SelectItem, ...]
    topic_filter: str
    where: _Node | None


class _Token(NamedTuple):
    kind: str  # ident, string, number, op, punct, arith, eof
    text: str
    pos: int


# --- Parser: tokenizer + recursive descent ---------------------------------------------------------------
class _Parser:
    def __init__(self, sql: str) -> None:
        self.sql, self.i = sql, 0
        self.tokens: list[_Token] = []
        pos = 0
        while pos < len(sql):
            if (m := _TOKEN_RE.match(sql, pos)) is None:
                raise self._error(f"{_BAD_CHARS.get(sql[pos], 'unexpected character')} {sql[pos]!r} at {pos}")
            if m.lastgroup != "ws":
                text = m.group()[1:-1] if m.lastgroup == "string" else m.group()
                self.tokens.append(_Token(m.lastgroup or "", text, pos))
            pos = m.end()
        self.tokens.append(_Token("eof", "", len(sql)))

    def _error(self, what: str) -> UnsupportedSqlError:
        return UnsupportedSqlError(f"unsupported IoT SQL: {what} in {self.sql!r}")

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def _peek(self) -> _Token:
        return self.tokens[min(self.i + 1, len(self.tokens) - 1)]

    def _advance(self) -> _Token:
        token, self.i = self.tok, min(self.i + 1, len(self.tokens) - 1)
        return token

    def _is_kw(self, *words: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.upper() in words

    def _accept(self, kind: str, text: str) -> bool:
        """Consume the current token if it is `text` (keywords compared case-insensitively)."""
        if self.tok.kind == kind and self.tok.text.upper() == text:
            self._advance()
            return True
        return False

    def _expect(self, kind: str, text: str) -> None:
        if not self._accept(kind, text):
            raise self._unexpected(f"expected {text}")

    def _unexpected(self, context: str = "") -> UnsupportedSqlError:
        token, suffix = self.tok, f" ({context})" if context else ""
        if token.kind == "eof":
            return self._error(f"unexpected end of statement{suffix}")
        if token.kind == "arith" or token.text == "*":
            return self._error(f"arithmetic operator {token.text!r} at {token.pos}")
        if token.text.upper() == "SELECT":
            return self._error(f"subquery at {token.pos}")
        return self._error(f"unexpected {token.text!r} at {token.pos}{suffix}")

    def parse(self) -> _Query:
        self._expect("ident", "SELECT")
        after = self._peek()  # 'SELECT value FROM' and 'SELECT value AS v' just select a field named value
        value_keyword = self._is_kw("VALUE") and after.kind in ("ident", "string", "number")
        if value_keyword and after.text.upper() not in ("FROM", "AS"):
            raise self._error("SELECT VALUE")
        items = [self._select_item()]
        while self._accept("punct", ","):
            items.append(self._select_item())
        self._expect("ident", "FROM")
        if self.tok.kind != "string":
            raise self._unexpected("FROM needs a single-quoted topic filter")
        topic_filter = self._advance().text
        try:
            _validate_filter(topic_filter)
        except ValueError as exc:
            raise self._error(str(exc)) from None
        where = self._or() if self._accept("ident", "WHERE") else None
        if self.tok.kind != "eof":
            raise self._unexpected()
        return _Query(tuple(items), topic_filter, where)

    def _select_item(self) -> _SelectItem:
        if self._accept("punct", "*"):
            return None
        start, expr = self.tok.pos, self._or()
        if self._accept("ident", "AS"):
            if self.tok.kind != "ident" or self.tok.text.upper() in _RESERVED:
                raise self._unexpected("AS needs an alias name")
            return self._advance().text, expr
        if isinstance(expr, _Field):
            return expr.path[-1], expr
        if isinstance(expr, _Func):
            return expr.name, expr
        raise self._error(f"SELECT item at {start} needs an AS alias")

    def _or(self) -> _Node:
        node = self._and()
        while self._accept("ident", "OR"):
            node = _Binary("OR", node, self._and())
        return node

    def _and(self) -> _Node:
        node = self._not()
        while self._accept("ident", "AND"):
            node = _Binary("AND", node, self._not())
        return node

    def _not(self) -> _Node:
        return _Unary("NOT", self._not()) if self._accept("ident", "NOT") else self._comparison()

    def _comparison(self) -> _Node:
        node = self._primary()
        if self.tok.kind == "op":
            op = self._advance().text
            node = _Binary("<>" if op == "!=" else op, node, self._primary())
        elif self._accept("ident", "IS"):
            negated = self._accept("ident", "NOT")
            if not self._is_kw("NULL", "UNDEFINED"):
                raise self._unexpected("IS must be followed by [NOT] NULL or [NOT] UNDEFINED")
            node = _Unary(f"IS {'NOT ' if negated else ''}{self._advance().text.upper()}", node)
        if self.tok.kind in ("arith", "op") or self.tok.text == "*":
            raise self._unexpected()  # arithmetic, or a chained comparison such as a < b < c
        return node

    def _primary(self) -> _Node:
        token, word = self.tok, self.tok.text.upper()
        if self._accept("punct", "("):
            node = self._or()
            self._expect("punct", ")")
            return node
        if token.kind in ("string", "number"):
            self._advance()
            return _Literal(token.text if token.kind == "string" else _json_number(token.text))
        if token.text == "-" and self._peek().kind == "number":
            self._advance()
            return _Literal(-_json_number(self._advance().text))
        if token.kind != "ident" or word in _RESERVED:
            raise self._unexpected()
        self._advance()
        if word in ("TRUE", "FALSE", "NULL"):
            return _Literal({"TRUE": True, "FALSE": False, "NULL": None}[word])
        if self.tok.text == "(":
            return self._call(token)
        path = [token.text]
        while self._accept("punct", "."):
            if self.tok.kind != "ident":
                raise self._unexpected("expected a field name after '.'")
            path.append(self._advance().text)
        return _Field(tuple(path))

    def _call(self, name: _Token) -> _Func:
        func = name.text.lower()
        if func not in _FUNCTIONS:
            raise self._error(f"function {name.text}() at {name.pos}")
        self._expect("punct", "(")
        if self._accept("punct", ")"):
            return _Func(func)
        level = self._advance()
        if func != "topic" or level.kind != "number" or not level.text.isdigit() or int(level.text) < 1:
            raise self._error(f"argument {level.text!r} to {func}() (only topic(n) with a literal n >= 1)")
        self._expect("punct", ")")
        return _Func(func, int(level.text))


# --- Evaluation ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    raw_payload: bytes
    topic: str
    client_id: str
    timestamp_ms: int

    @cached_property
    def payload(self) -> dict[str, Any]:
        """Decoded only when '*' or a field reference needs it, so function-only rules accept any bytes."""
        try:
            text = self.raw_payload.decode("utf-8")
            document = json.loads(text, parse_float=_json_number, parse_constant=_reject_constant)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise RuleEvaluationError(f"payload is not a JSON object: {exc}") from None
        if not isinstance(document, dict):
            raise RuleEvaluationError(f"payload is not a JSON object: got a JSON {type(document).__name__}")
        return document


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return _UNDEFINED


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_number(value: Any) -> int | float | None:
    if _is_number(value):
        return value  # type: ignore[no-any-return]
    return float(value) if isinstance(value, str) and _NUMERIC_STRING_RE.fullmatch(value) else None


def _equal(a: Any, b: Any) -> bool:
    """Type-strict deep equality: numbers compare numerically, booleans never equal numbers."""
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _evaluate(node: _Node, ctx: _Context) -> Any:
    match node:
        case _Literal(value=value):
            return value
        case _Field(path=path):
            value = ctx.payload
            for part in path:
                if not isinstance(value, dict) or part not in value:
                    return _UNDEFINED
                value = value[part]
            return value
        case _Func(name="topic", level=level):
            levels = ctx.topic.split("/")
            return ctx.topic if level is None else levels[level - 1] if level <= len(levels) else _UNDEFINED
        case _Func(name="clientid"):
            return ctx.client_id
        case _Func(name="timestamp"):
            return ctx.timestamp_ms
        case _Func(name="newuuid"):
            return str(uuid.uuid4())
        case _Binary(op="AND" | "OR" as op, left=left, right=right):
            a, b = _to_bool(_evaluate(left, ctx)), _to_bool(_evaluate(right, ctx))
            decisive = op == "OR"  # three-valued logic: true OR x is true, false AND x is false
            if a is decisive or b is decisive:
                return decisive
            return _UNDEFINED if a is _UNDEFINED or b is _UNDEFINED else not decisive
        case _Binary(op=op, left=left, right=right):
            a, b = _evaluate(left, ctx), _evaluate(right, ctx)
            if a is _UNDEFINED or b is _UNDEFINED:
                return _UNDEFINED
            if op in ("=", "<>"):
                return _equal(a, b) == (op == "=")
            x, y = _to_number(a), _to_number(b)
            return _UNDEFINED if x is None or y is None else _ORDERING[op](x, y)
        case _Unary(op="NOT", operand=operand):
            value = _to_bool(_evaluate(operand, ctx))
            return value if value is _UNDEFINED else not value
        case _Unary(op=op, operand=operand):  # IS [NOT] NULL / IS [NOT] UNDEFINED
            value = _evaluate(operand, ctx)
            if op.endswith("NULL") and value is _UNDEFINED:
                return _UNDEFINED
            return (value is (None if op.endswith("NULL") else _UNDEFINED)) != (" NOT " in op)
    raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover


@dataclass(frozen=True)
class TopicRuleSql:
    """A parsed topic-rule SQL statement. Build it with :meth:`parse` (the constructor parses too)."""

    sql: str
    topic_filter: str
    _query: _Query | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        query = self._query or _Parser(self.sql).parse()
        if query.topic_filter != self.topic_filter:
            raise ValueError(f"topic_filter {self.topic_filter!r} is not the FROM filter of {self.sql!r}")
        object.__setattr__(self, "_query", query)

    @classmethod
    def parse(cls, sql: str) -> TopicRuleSql:
        query = _Parser(sql).parse()
        return cls(sql=sql, topic_filter=query.topic_filter, _query=query)

    def matches(self, topic: str) -> bool:
        return topic_matches(self.topic_filter, topic)

    def evaluate(
        self, payload: bytes, topic: str, *, client_id: str = "", timestamp_ms: int | None = None
    ) -> dict[str, Any] | None:
        """The object the rule action receives, or None when the WHERE clause is false or Undefined."""
        assert self._query is not None  # set by __post_init__
        now_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        ctx = _Context(payload, topic, client_id, now_ms)
        where = self._query.where
        if where is not None and _to_bool(_evaluate(where, ctx)) is not True:
            return None
        result: dict[str, Any] = {}
        for item in self._query.select:
            if item is None:
                result.update(ctx.payload)
            elif (value := _evaluate(item[1], ctx)) is not _UNDEFINED:
                result[item[0]] = value
        return result

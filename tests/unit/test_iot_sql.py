"""Unit tests for the AWS IoT topic-rule SQL subset evaluator used by the local runtime."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartgate_infra.iot_sql import RuleEvaluationError, TopicRuleSql, UnsupportedSqlError, topic_matches

DETECTIONS = "smartgate/gate-7/lanes/3/detections"
DETECTION = {"plate": "AB123CD", "confidence": 0.91, "vehicle": {"kind": "truck", "axles": {"count": 5}}}


def run(
    sql: str, payload: object | bytes = DETECTION, topic: str = DETECTIONS, **kwargs: object
) -> dict[str, Any] | None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return TopicRuleSql.parse(sql).evaluate(raw, topic, **kwargs)  # type: ignore[arg-type]


# --- topic_matches ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b/c", "a/b/c", True),
        ("a/b/c", "a/b/d", False),
        ("a/b/c", "A/b/c", False),
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a//c", True),
        ("a/+/c", "a/b/x/c", False),
        ("a/+", "a/b/c", False),
        ("a/+/+", "a/b", False),
        ("+", "a", True),
        ("+", "/a", False),
        ("+/+", "/a", True),
        ("a/#", "a/b/c", True),
        ("a/#", "a", True),
        ("a/#", "ab", False),
        ("a/b/#", "a", False),
        ("#", "a/b/c", True),
        ("a/b", "a/b/c", False),
        ("a/b/c", "a/b", False),
        ("smartgate/+/lanes/+/detections", DETECTIONS, True),
        ("smartgate/+/lanes/+/detections", "smartgate/gate-7/lanes/3/events", False),
    ],
)
def test_topic_matches_mqtt_filter_semantics(topic_filter: str, topic: str, expected: bool) -> None:
    # Given an MQTT topic filter and a published topic name
    # When they are matched
    # Then '+' matches exactly one level, '#' the remaining levels (and the parent), anything else exactly
    assert topic_matches(topic_filter, topic) is expected


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("#", "$aws/things/x/shadow/update", False),
        ("+/things/x/shadow/update", "$aws/things/x/shadow/update", False),
        ("$aws/things/+/shadow/#", "$aws/things/x/shadow/update", True),
        ("$SYS/#", "$SYS/broker/uptime", True),
        ("a/#", "a/$b", True),
    ],
)
def test_topic_matches_dollar_topics_need_a_literal_first_level(topic_filter: str, topic: str, expected: bool) -> None:
    # Given a topic whose first level starts with '$'
    # When it is matched against filters with and without a leading wildcard
    # Then only a filter naming the '$' level literally matches it
    assert topic_matches(topic_filter, topic) is expected


@pytest.mark.parametrize(
    ("topic_filter", "topic"),
    [
        ("a/#/b", "a/x/b"),
        ("a/b#", "a/b"),
        ("a+/b", "a/b"),
        ("", "a"),
        ("a/+", "a/+"),
        ("#", "a/#"),
        ("#", ""),
    ],
)
def test_topic_matches_rejects_invalid_filters_and_topic_names(topic_filter: str, topic: str) -> None:
    # Given a malformed filter or a topic name containing wildcards
    # When matching is attempted
    # Then it fails loudly instead of silently answering
    with pytest.raises(ValueError, match="invalid MQTT topic"):
        topic_matches(topic_filter, topic)


_level = st.text(alphabet="abcz09-_. ", max_size=5)
_topic_levels = st.lists(_level, min_size=1, max_size=6).filter(lambda levels: any(levels))


@given(_topic_levels)
def test_property_a_topic_matches_itself_and_hash(levels: list[str]) -> None:
    # Given any valid topic name without '$'
    topic = "/".join(levels)
    # When matched against itself and against '#'
    # Then both match
    assert topic_matches(topic, topic)
    assert topic_matches("#", topic)


@given(_topic_levels, st.data())
def test_property_plus_replaces_any_single_level(levels: list[str], data: st.DataObject) -> None:
    # Given a topic and a filter equal to it except that some levels are '+'
    wildcarded = data.draw(st.lists(st.booleans(), min_size=len(levels), max_size=len(levels)))
    topic_filter = "/".join("+" if w else level for w, level in zip(wildcarded, levels, strict=True))
    topic = "/".join(levels)
    # When matched
    # Then it matches, but not once the topic gains or loses a level
    assert topic_matches(topic_filter, topic)
    assert not topic_matches(topic_filter, topic + "/extra")
    if shorter := "/".join(levels[:-1]):
        assert not topic_matches(topic_filter, shorter)


@given(_topic_levels, st.integers(min_value=0, max_value=6))
def test_property_hash_matches_every_topic_under_its_prefix(levels: list[str], cut: int) -> None:
    # Given a topic and a filter made of a prefix of its levels followed by '#'
    prefix = levels[: min(cut, len(levels))]
    topic_filter = "/".join([*prefix, "#"])
    # When matched
    # Then the topic matches (including when it is exactly the prefix: '#' also matches the parent)
    assert topic_matches(topic_filter, "/".join(levels))


# --- parsing ---------------------------------------------------------------------------------------------
def test_parse_extracts_the_from_filter_case_insensitively() -> None:
    # Given a rule written with mixed-case keywords
    sql = "select Plate as plate FrOm 'smartgate/+/lanes/+/detections' wHeRe confidence > 0.5"
    # When parsed
    rule = TopicRuleSql.parse(sql)
    # Then the filter and the SQL are kept, and the rule matches topics through it
    assert rule.topic_filter == "smartgate/+/lanes/+/detections"
    assert rule.sql == sql
    assert rule.matches(DETECTIONS)
    assert not rule.matches("smartgate/gate-7/lanes/3/events")


def test_constructor_parses_and_checks_the_filter() -> None:
    # Given the SQL of a rule
    sql = "SELECT * FROM 'a/+'"
    # When the dataclass is built directly rather than through parse()
    rule = TopicRuleSql(sql=sql, topic_filter="a/+")
    # Then it is equal to the parsed rule, and a filter that contradicts the FROM clause is refused
    assert rule == TopicRuleSql.parse(sql)
    assert rule.evaluate(b'{"x": 1}', "a/b") == {"x": 1}
    with pytest.raises(ValueError, match="FROM"):
        TopicRuleSql(sql=sql, topic_filter="b/+")


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT a FROM 'a/b' GROUP BY a", "'GROUP'"),
        ("SELECT * FROM 'a/b' JOIN 'c/d'", "'JOIN'"),
        ("SELECT * FROM 'a/b' ORDER BY a", "'ORDER'"),
        ("SELECT CASE a WHEN 1 THEN 'x' END AS y FROM 'a/b'", "'CASE'"),
        ("SELECT * FROM 'a/b' WHERE a IN (1, 2)", "'IN'"),
        ("SELECT * FROM 'a/b' WHERE a LIKE 'x%'", "'LIKE'"),
        ("SELECT * FROM 'a/b' WHERE a = (SELECT b FROM 'c')", "subquery"),
        ("SELECT a + 1 AS b FROM 'a/b'", "arithmetic operator '+'"),
        ("SELECT * FROM 'a/b' WHERE a * 2 > 3", "arithmetic operator '*'"),
        ("SELECT * FROM 'a/b' WHERE a - 2 > 3", "arithmetic operator '-'"),
        ("SELECT upper(plate) AS p FROM 'a/b'", "function upper()"),
        ("SELECT * FROM 'a/b' WHERE isUndefined(a)", "function isUndefined()"),
        ("SELECT encode(*, 'base64') AS b FROM 'a/b'", "function encode()"),
        ("SELECT VALUE plate FROM 'a/b'", "SELECT VALUE"),
        ("SELECT DISTINCT a FROM 'a/b'", "'DISTINCT'"),
        ("SELECT a[0] AS first FROM 'a/b'", "array index"),
        ("SELECT {'k': 1} AS o FROM 'a/b'", "object literal"),
        ("SELECT \"a\" FROM 'a/b'", "double quotes"),
        ("SELECT * FROM 'a/b'; SELECT * FROM 'c'", "multiple statements"),
        ("SELECT * FROM 'a/b' WHERE a = 'oops", "unterminated string"),
        ("SELECT * FROM a/b", "single-quoted topic filter"),
        ("SELECT *", "unexpected end of statement"),
        ("SELECT * FROM 'a/#/b'", "invalid MQTT topic filter"),
        ("SELECT * FROM 'a/b' AS t", "'AS'"),
        ("SELECT 'constant' FROM 'a/b'", "needs an AS alias"),
        ("SELECT a = 1 FROM 'a/b'", "needs an AS alias"),
        ("SELECT * FROM 'a/b' WHERE a < b < c", "'<'"),
        ("SELECT * FROM 'a/b' WHERE a IS 5", "IS must be followed by"),
        ("SELECT topic(0) FROM 'a/b'", "topic(n)"),
        ("SELECT topic(lvl) FROM 'a/b'", "topic(n)"),
        ("SELECT topic(1.5) FROM 'a/b'", "topic(n)"),
        ("SELECT clientid('x') FROM 'a/b'", "clientid()"),
        ("UPDATE t SET a = 1", "expected SELECT"),
        ("", "expected SELECT"),
    ],
)
def test_parse_rejects_constructs_outside_the_subset(sql: str, named: str) -> None:
    # Given SQL that is malformed or uses a construct the local runtime does not emulate
    # When it is parsed
    # Then UnsupportedSqlError names the construct and quotes the SQL (never deferred to evaluate time)
    with pytest.raises(UnsupportedSqlError) as raised:
        TopicRuleSql.parse(sql)
    assert named in str(raised.value)
    assert repr(sql) in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_fields_may_share_names_with_functions_and_non_reserved_words() -> None:
    # Given a payload whose keys are called timestamp, topic and value
    payload = {"timestamp": 17, "topic": "t", "value": 3}
    # When they are selected as fields (no parentheses)
    result = run("SELECT timestamp, topic, value FROM 'a/b'", payload, topic="a/b")
    # Then they are field references, not function calls
    assert result == {"timestamp": 17, "topic": "t", "value": 3}


# --- SELECT ----------------------------------------------------------------------------------------------
def test_select_star_returns_every_top_level_field() -> None:
    # Given a detection payload
    # When the rule selects '*'
    result = run("SELECT * FROM 'smartgate/+/lanes/+/detections'")
    # Then the action receives the whole object
    assert result == DETECTION


def test_select_star_plus_function_adds_a_key_and_later_items_override() -> None:
    # Given a rule that adds the topic to the payload and overrides one field
    sql = "SELECT *, topic() AS mqtt_topic, 'redacted' AS plate FROM 'smartgate/#'"
    # When evaluated
    result = run(sql)
    # Then the payload gains mqtt_topic and the later 'plate' item wins
    assert result == {**DETECTION, "mqtt_topic": DETECTIONS, "plate": "redacted"}


def test_select_item_before_star_is_overridden_by_the_payload() -> None:
    # Given a literal placed before '*' under a key the payload also has
    # When evaluated
    result = run("SELECT 'x' AS plate, * FROM 'smartgate/#'")
    # Then the payload's value (the later item) wins
    assert result is not None and result["plate"] == "AB123CD"


def test_aliases_rename_keys() -> None:
    # Given a rule renaming fields with AS (keyword in any case)
    # When evaluated
    result = run("SELECT plate AS licence_plate, confidence as score FROM 'smartgate/#'")
    # Then the keys are the aliases
    assert result == {"licence_plate": "AB123CD", "score": 0.91}


def test_nested_field_refs_are_keyed_by_their_last_segment() -> None:
    # Given a rule selecting nested fields, one without and one with an alias
    # When evaluated
    result = run("SELECT vehicle.kind, vehicle.axles.count AS axles, vehicle FROM 'smartgate/#'")
    # Then the unaliased nested value uses its last path segment as key
    assert result == {"kind": "truck", "axles": 5, "vehicle": DETECTION["vehicle"]}


def test_missing_fields_are_omitted_from_the_result() -> None:
    # Given a rule selecting fields the payload lacks (including through a non-object)
    sql = "SELECT plate, trailer, vehicle.colour, plate.length AS n, vehicle.axles.count.x FROM 'smartgate/#'"
    # When evaluated
    result = run(sql)
    # Then only the defined values appear (AWS Undefined is never serialized)
    assert result == {"plate": "AB123CD"}


def test_select_of_only_missing_fields_gives_an_empty_object() -> None:
    # Given a rule whose every selected field is missing
    # When evaluated
    # Then the action still fires, with an empty object
    assert run("SELECT trailer FROM 'smartgate/#'") == {}


def test_json_null_is_a_value_not_undefined() -> None:
    # Given a payload with an explicit null
    # When the null field and the null literal are selected
    result = run("SELECT trailer, null AS nothing FROM 'a/b'", {"trailer": None}, topic="a/b")
    # Then both are kept as None
    assert result == {"trailer": None, "nothing": None}


@pytest.mark.parametrize(
    ("level", "expected"),
    [(1, "smartgate"), (2, "gate-7"), (3, "lanes"), (4, "3"), (5, "detections")],
)
def test_topic_n_returns_the_one_based_level(level: int, expected: str) -> None:
    # Given a detections topic with five levels
    # When topic(n) is selected
    result = run(f"SELECT topic({level}) AS level FROM 'smartgate/#'")
    # Then the n-th level (counting from 1) is returned
    assert result == {"level": expected}


def test_topic_n_beyond_the_last_level_is_undefined() -> None:
    # Given a five-level topic
    # When topic(6) is selected
    # Then the key is omitted, like any Undefined value
    assert run("SELECT topic(6) AS gate, plate FROM 'smartgate/#'") == {"plate": "AB123CD"}


def test_unaliased_functions_are_keyed_by_function_name() -> None:
    # Given a rule calling every supported function without aliases (names in any case)
    sql = "SELECT TOPIC(2), clientid(), timestamp(), NewUuid() FROM 'smartgate/#'"
    # When evaluated with a client id and a fixed clock
    result = run(sql, client_id="lane-3-camera", timestamp_ms=1_700_000_000_123)
    # Then each result is keyed by its function name
    assert result is not None
    assert result.keys() == {"topic", "clientid", "timestamp", "newuuid"}
    assert result["topic"] == "gate-7"
    assert result["clientid"] == "lane-3-camera"
    assert result["timestamp"] == 1_700_000_000_123
    assert uuid.UUID(result["newuuid"]).version == 4


def test_timestamp_defaults_to_now_and_newuuid_is_fresh_per_call() -> None:
    # Given a rule using timestamp() and newuuid() twice
    rule = TopicRuleSql.parse("SELECT timestamp() AS ts, newuuid() AS a, newuuid() AS b FROM 'a/b'")
    # When evaluated without a timestamp
    before = int(time.time() * 1000)
    result = rule.evaluate(b"", "a/b")
    after = int(time.time() * 1000)
    # Then the timestamp is the current epoch milliseconds and each newuuid() is distinct
    assert result is not None
    assert before <= result["ts"] <= after
    assert result["a"] != result["b"]


def test_literals_and_whole_number_decimals() -> None:
    # Given literals of each type and a payload holding 10.0 (SQL 2016-03-23 treats whole decimals as Int)
    sql = "SELECT 'lane' AS s, 42 AS i, -1.5 AS f, 2.0 AS w, 1e3 AS e, true AS t, FALSE AS n, reading FROM 'a'"
    # When evaluated
    result = run(sql, b'{"reading": 10.0}', topic="a")
    # Then literals keep their types and whole-number decimals become ints
    assert result == {
        "s": "lane",
        "i": 42,
        "f": -1.5,
        "w": 2,
        "e": 1000,
        "t": True,
        "n": False,
        "reading": 10,
    }
    assert isinstance(result["reading"], int) and isinstance(result["w"], int)


def test_boolean_expressions_can_be_selected_with_an_alias() -> None:
    # Given a rule computing a flag in the SELECT list
    # When evaluated
    result = run("SELECT confidence >= 0.9 AS confident, trailer = 1 AS has FROM 'smartgate/#'")
    # Then the boolean is returned and an Undefined comparison is omitted
    assert result == {"confident": True}


# --- WHERE -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("where", "fires"),
    [
        ("confidence > 0.5", True),
        ("confidence > 0.95", False),
        ("confidence >= 0.91 AND confidence <= 0.91", True),
        ("confidence < 0.91", False),
        ("plate = 'AB123CD'", True),
        ("plate <> 'AB123CD'", False),
        ("plate != 'ZZ'", True),
        ("vehicle.axles.count = 5", True),
        ("vehicle.axles.count = 5.0", True),
        ("vehicle.kind = 'TRUCK'", False),
        ("topic(2) = 'gate-7'", True),
        ("'gate-7' = topic(2)", True),
        ("topic() = 'smartgate/gate-7/lanes/3/detections'", True),
        ("clientid() = 'cam-3'", True),
        ("true", True),
        ("false", False),
        ("'true'", True),
        ("confidence", False),  # a number is not a boolean: Undefined
        ("vehicle = vehicle", True),  # objects compare deeply
    ],
)
def test_where_decides_whether_the_rule_fires(where: str, fires: bool) -> None:
    # Given a detection message and a rule with a WHERE clause
    # When evaluated
    result = run(f"SELECT plate FROM 'smartgate/#' WHERE {where}", client_id="cam-3")
    # Then the action gets the SELECT result only when the condition is true
    assert result == ({"plate": "AB123CD"} if fires else None)


@pytest.mark.parametrize(
    "where",
    [
        "trailer = 'x'",
        "trailer <> 'x'",
        "trailer > 1",
        "vehicle.colour = 'red'",
        "trailer = trailer",
        "NOT trailer = 'x'",
        "NOT (trailer <> 'x')",
        "topic(9) = 'x'",
        "trailer",
        "trailer IS NULL",
        "trailer IS NOT NULL",
        "NOT trailer IS NULL",
    ],
)
def test_where_with_undefined_operands_never_fires(where: str) -> None:
    # Given a payload that lacks the 'trailer' and 'vehicle.colour' fields
    # When the WHERE clause compares or tests them
    # Then the comparison is Undefined and the rule does not fire, even under NOT
    assert run(f"SELECT * FROM 'smartgate/#' WHERE {where}") is None


@pytest.mark.parametrize(
    ("where", "fires"),
    [
        ("plate = 1", False),
        ("plate <> 1", True),
        ("confidence = '0.91'", False),
        ("confidence > '0.5'", True),  # ordering converts numeric strings
        ("plate > 'A'", False),  # ...and is Undefined for non-numeric strings
        ("flag = 1", False),  # booleans are not numbers
        ("flag = true", True),
        ("nothing = null", True),
        ("nothing IS NULL", True),
        ("nothing IS NOT NULL", False),
        ("plate IS NOT NULL", True),
        ("plate IS NULL", False),
        ("trailer IS UNDEFINED", True),
        ("nothing IS UNDEFINED", False),
        ("plate IS NOT UNDEFINED", True),
        ("NOT (trailer IS NOT UNDEFINED)", True),
    ],
)
def test_where_types_and_null_checks(where: str, fires: bool) -> None:
    # Given a payload with a string, a number, a boolean and an explicit null
    payload = {"plate": "AB123CD", "confidence": 0.91, "flag": True, "nothing": None}
    # When compared across types or tested with IS
    result = run(f"SELECT * FROM 'a/b' WHERE {where}", payload, topic="a/b")
    # Then equality is type-strict, ordering is numeric, and IS separates null from missing
    assert (result is not None) is fires


@pytest.mark.parametrize(
    ("where", "fires"),
    [
        ("true OR false AND false", True),  # AND binds tighter than OR
        ("(true OR false) AND false", False),
        ("NOT false AND false", False),  # NOT binds tighter than AND
        ("NOT (false AND false)", True),
        ("NOT NOT true", True),
        ("false OR NOT false", True),
        ("confidence > 0.5 AND plate = 'AB123CD' OR plate = 'ZZ'", True),
        ("plate = 'ZZ' OR confidence > 0.5 AND vehicle.kind = 'truck'", True),
        ("plate = 'ZZ' OR confidence > 0.5 AND vehicle.kind = 'van'", False),
        ("NOT plate = 'ZZ'", True),
        ("true OR trailer = 1", True),  # three-valued: true OR Undefined is true
        ("trailer = 1 OR true", True),
        ("false AND trailer = 1", False),
        ("false OR trailer = 1", False),  # Undefined: does not fire
        ("NOT (false AND trailer = 1)", True),
        ("'TRUE' AND 'false' OR 'True'", True),  # 'true'/'false' strings act as booleans
        ("1 AND true", False),  # other values are Undefined
    ],
)
def test_where_boolean_precedence_and_three_valued_logic(where: str, fires: bool) -> None:
    # Given a detection message
    # When the WHERE clause combines conditions with AND / OR / NOT and parentheses
    result = run(f"SELECT * FROM 'smartgate/#' WHERE {where}")
    # Then NOT > AND > OR precedence holds and Undefined only decides when nothing else does
    assert (result is not None) is fires


def test_where_is_evaluated_against_the_payload_not_select_aliases() -> None:
    # Given a rule whose SELECT renames a field
    sql = "SELECT confidence AS score FROM 'smartgate/#' WHERE score > 0.5"
    # When evaluated
    # Then the WHERE clause sees only the payload, where 'score' is missing, so the rule does not fire
    assert run(sql) is None


# --- payload errors and binary payloads ------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xd8\xff\xe0 jpeg",
        b"not json",
        b"",
        b"[1, 2]",
        b'"text"',
        b"42",
        b"null",
        b'{"a": NaN}',
        b'{"a": 1',
    ],
)
@pytest.mark.parametrize("sql", ["SELECT * FROM 'a/b'", "SELECT a FROM 'a/b'", "SELECT topic() FROM 'a/b' WHERE a = 1"])
def test_payload_that_is_not_a_json_object_is_an_evaluation_error(payload: bytes, sql: str) -> None:
    # Given a rule that reads the payload ('*' or a field reference, in SELECT or WHERE)
    rule = TopicRuleSql.parse(sql)
    # When the message payload is not a UTF-8 JSON object
    # Then evaluation raises RuleEvaluationError (the runtime routes it to the rule's error action)
    with pytest.raises(RuleEvaluationError, match=re.escape("payload is not a JSON object: ")):
        rule.evaluate(payload, "a/b")


def test_function_only_select_works_on_a_binary_payload() -> None:
    # Given a rule that uses only functions and literals, and a binary (JPEG-like) payload
    rule = TopicRuleSql.parse(
        "SELECT topic(2) AS gate, topic(4) AS lane, clientid() AS device, 'frame' AS kind "
        "FROM 'smartgate/+/lanes/+/frames' WHERE topic(4) = '3'"
    )
    # When evaluated
    result = rule.evaluate(b"\xff\xd8\xff\xe0\x00\x10JFIF", "smartgate/gate-7/lanes/3/frames", client_id="cam")
    # Then no payload decoding is attempted and the action gets the computed object
    assert result == {"gate": "gate-7", "lane": "3", "device": "cam", "kind": "frame"}


def test_where_false_on_topic_skips_payload_decoding() -> None:
    # Given a rule selecting '*' but filtering on the topic first, and a binary payload
    rule = TopicRuleSql.parse("SELECT * FROM 'smartgate/#' WHERE topic(4) = '9'")
    # When evaluated for a non-matching lane
    # Then the WHERE clause (evaluated before SELECT) stops the rule without an error
    assert rule.evaluate(b"\xff\xd8 binary", DETECTIONS) is None

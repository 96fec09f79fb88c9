"""The flat-object shortcut answers exactly what graphql-core's own completion answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NamedTuple

import pytest
import strawberry

from api.execution import FlatObjectExecution


@strawberry.enum
class Kind(Enum):
    TOPIC = "topic"
    PERSON = "person"


@strawberry.type
class Value:
    value: str
    count: int
    kind: Kind
    seen: datetime | None = None

    @strawberry.field
    def label(self) -> str:
        return self.value.upper()


class Row(NamedTuple):
    value: Any
    count: Any
    kind: Any = Kind.TOPIC
    seen: Any = None


ROWS = {
    "good": [Row("a", 1, Kind.PERSON, datetime(2024, 3, 1, tzinfo=UTC)), Row("b", 2)],
    "null_for_non_null": [Row("a", 1), Row(None, 2)],
    "not_an_int": [Row("a", "many")],
    "null_item": [Row("a", 1), None],
    "empty": [],
}


@strawberry.type
class Query:
    @strawberry.field
    def values(self, case: str) -> list[Value]:
        return ROWS[case]  # type: ignore[return-value]

    @strawberry.field
    def maybe_values(self, case: str) -> list[Value | None]:
        return ROWS[case]  # type: ignore[return-value]

    @strawberry.field
    def one(self, case: str) -> Value | None:
        return ROWS[case][-1]  # type: ignore[return-value]


REFERENCE = strawberry.Schema(Query)
FLAT = strawberry.Schema(Query, execution_context_class=FlatObjectExecution)

DOCUMENTS = [
    "query($c: String!) { values(case: $c) { value count kind seen } }",
    "query($c: String!) { maybeValues(case: $c) { value count } }",
    "query($c: String!) { one(case: $c) { __typename n: count v: value } }",
    "query($c: String!) { values(case: $c) { value label } }",
    "query($c: String!, $s: Boolean!) { values(case: $c) { value count @include(if: $s) } }",
    "query($c: String!) { values(case: $c) { ... on Value { kind } value } }",
]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("case", sorted(ROWS))
async def test_flat_objects_complete_as_graphql_core_completes_them(
    document: str, case: str
) -> None:
    variables = {"c": case, "s": case != "good"}
    expected = await REFERENCE.execute(document, variable_values=variables)
    answered = await FLAT.execute(document, variable_values=variables)

    # Compared as JSON text, so that key order counts too.
    assert json.dumps(answered.data) == json.dumps(expected.data)
    assert [(e.message, e.path) for e in answered.errors or []] == [
        (e.message, e.path) for e in expected.errors or []
    ]


class Counting(FlatObjectExecution):
    fields = 0

    def execute_field(self, *args: Any) -> Any:
        Counting.fields += 1
        return super().execute_field(*args)


async def test_flat_objects_are_completed_without_a_field_execution_each() -> None:
    schema = strawberry.Schema(Query, execution_context_class=Counting)
    Counting.fields = 0
    document = '{ values(case: "good") { value count kind seen } one(case: "good") { value } }'

    answered = await schema.execute(document)

    assert not answered.errors
    assert Counting.fields == 2, "only the two root fields, none of the six values"

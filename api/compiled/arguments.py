"""A field's arguments for any request's variables, and the story-list arguments read from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from graphql import FieldNode, GraphQLField
from graphql.execution.values import get_argument_values
from strawberry.types.arguments import convert_arguments

from api.relay import DEFAULT_PAGE_SIZE, decode_cursor

ARTICLE_KEY = (datetime, int)
# What a parameter's value is, given the request's coerced variables.
Getter = Callable[[Any], Any]


class Refused(Exception):
    """These variables take the resolvers' path: they refuse them, with their own error."""


@dataclass(frozen=True)
class Arguments:
    """A field's arguments, for any request's variables."""

    field_def: GraphQLField
    node: FieldNode
    schema: Any = None  # Strawberry's, for `converted`

    def __call__(self, variables: Any) -> dict[str, Any]:
        return get_argument_values(self.field_def, self.node, variables)

    def get(self, name: str) -> Getter:
        return lambda variables: self(variables).get(name)

    def converted(self, variables: Any) -> dict[str, Any]:
        """As the resolver receives them: by their Python names, input objects as their
        classes (a `SearchFilter`, an `ArticleFilter`), enums as members."""
        field = self.field_def.extensions["strawberry-definition"]
        registry = self.schema.schema_converter.scalar_registry
        return convert_arguments(self(variables), field.arguments, registry, self.schema.config)


def cursor_part(arguments: Arguments, argument: str, index: int) -> Getter:
    def part(variables: Any) -> Any:
        try:
            return decode_cursor(arguments(variables)[argument], ARTICLE_KEY, argument)[index]
        except Exception as exc:  # the resolvers say what is wrong with it
            raise Refused(argument) from exc

    return part


def default_first(field_def: GraphQLField) -> int | None:
    """The page size when neither `first` nor `last` is given (api.relay.first_argument)."""
    definition = field_def.args["first"].extensions.get("strawberry-definition")
    return getattr(definition, "metadata", {}).get(DEFAULT_PAGE_SIZE)


def enum_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Enum):
        return value.name
    return str(value)

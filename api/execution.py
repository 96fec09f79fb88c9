"""Strawberry's executor with a shortcut for flat objects; no schema types here.

graphql-core completes every field of every object on its own: a path, a resolve info, the
resolver, the completion of the value. For an object whose selected fields are all scalars read
straight off it (Strawberry's "basic" fields: no resolver, no extension), that is the whole cost
of the object, and a search answer has about 200 of them (its facet values): profiled, half the
time Python spent on a search request. Such objects are completed here in one loop instead, by
calling the same resolvers and the same scalar serialisers, so the answer is the same.

Anything else takes graphql-core's path: a field with a resolver, arguments or a sub-selection,
a type that checks its objects (`is_type_of`: interfaces such as Node), deferred fragments and
streamed lists, resolver middleware (schema extensions that wrap every field), and any value that
would be an error there (null for a non-null field, a scalar that does not serialise), which is
then reported exactly as graphql-core reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum, auto
from typing import Any, Final

from graphql import (
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# One selected field of a flat object: its response key, then either (None, the type name) for
# `__typename`, or its resolver, its scalar type and whether it is non-null.
_Step = tuple[str, Callable[..., Any] | None, Any, bool]


class _Slow(Enum):
    """A value graphql-core must complete itself (it will report the error). An enum member
    rather than a bare object(), so that `is not _SLOW` narrows the type."""

    SLOW = auto()


_SLOW: Final = _Slow.SLOW


class FlatObjectExecution(StrawberryGraphQLCoreExecutionContext):
    """Completes objects whose selected fields are all basic scalar fields in one loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # By identity of a grouped field set, which graphql-core builds once per selection and
        # request: the set itself is kept so that its id cannot be reused meanwhile.
        self._plans: dict[int, tuple[GroupedFieldSet, list[_Step] | None]] = {}

    def _plan(self, parent_type: GraphQLObjectType, fields: GroupedFieldSet) -> list[_Step] | None:
        known = self._plans.get(id(fields))
        if known is not None:
            return known[1]
        plan: list[_Step] | None = []
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            plan = None  # an extension wraps every resolver: each field must be called alone
        for key, details in fields.items():
            if plan is None:
                break
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                plan.append((key, None, parent_type.name, False))
                continue
            field = parent_type.fields.get(name)
            resolve = field.resolve if field is not None else None
            if field is None or node.arguments or not getattr(resolve, "_is_default", False):
                plan = None
                break
            non_null = isinstance(field.type, GraphQLNonNull)
            scalar = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            if not is_leaf_type(scalar):
                plan = None
                break
            plan.append((key, resolve, scalar, non_null))
        self._plans[id(fields)] = (fields, plan)
        return plan

    @staticmethod
    def _flat(plan: list[_Step], source: Any) -> dict[str, Any] | _Slow:
        """The completed object, or _SLOW when graphql-core must complete it."""
        completed: dict[str, Any] = {}
        try:
            for key, resolve, scalar, non_null in plan:
                if resolve is None:
                    completed[key] = scalar
                    continue
                value = resolve(source, None)
                if value is None:
                    if non_null:
                        return _SLOW
                    completed[key] = None
                    continue
                if isinstance(value, Exception):
                    return _SLOW
                leaf: GraphQLLeafType = scalar
                value = leaf.coerce_output_value(value)
                if value is None or value is Undefined:
                    return _SLOW
                completed[key] = value
        except Exception:
            return _SLOW
        return completed

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        plan = self._plan(parent_type, grouped_field_set)
        if plan is not None:
            completed = self._flat(plan, source_value)
            if completed is not _SLOW:
                return completed
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        completed = self._flat_list(return_type, field_details_list, result)
        if completed is not None:
            return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _flat_list(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        items: Any,
    ) -> list[Any] | None:
        """A list of flat objects completed item after item, or None for graphql-core's path:
        it also skips the path, the completion and the sub-selection lookup of each item."""
        item_type = return_type.of_type
        non_null = isinstance(item_type, GraphQLNonNull)
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if (
            not isinstance(object_type, GraphQLObjectType)
            or object_type.is_type_of is not None
            or not isinstance(items, Sequence)
            # @stream (or any directive on the list field) is graphql-core's to handle.
            or any(details.node.directives for details in field_details_list)
        ):
            return None
        fields, deferred, _ = self.collect_subfields(object_type, field_details_list)
        plan = None if deferred else self._plan(object_type, fields)
        if plan is None:
            return None
        completed: list[Any] = []
        for item in items:
            if item is None and not non_null:
                completed.append(None)
                continue
            value = _SLOW if item is None else self._flat(plan, item)
            if value is _SLOW:
                return None
            completed.append(value)
        return completed

"""Query limits: the size of a request's document and variables, the document's shape, and its
estimated cost, each checked as early as it can be. Every answer reports its cost, as GitHub's
API does.

No request may cost much more to refuse than it took to send. In order: the document's length
and the variables' count of values before anything reads them; the document's tokens while it is
parsed; its shape (fields, aliases, depth, fragment spreads, fragments expanded but each counted
once) in one pass before validation, whose rules can be quadratic; its cost after validation,
before any resolver runs.

The estimate of the cost is api/cost.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode, GraphQLError, GraphQLSyntaxError, Source, parse
from graphql.execution import ExecutionResult
from graphql.validation.rules import overlapping_fields_can_be_merged
from strawberry.extensions import SchemaExtension

from api.cost import estimate_cost
from api.errors import ErrorCode, QueryTooLarge
from api.shape import CEILING, Shape, measure_shapes

if TYPE_CHECKING:
    from api.settings import Settings

# Our deepest input is ArticleInput.body[].text, three levels down; deeper JSON is refused before
# graphql-core's coercion (or our own checks) recurse into it.
MAX_VARIABLE_DEPTH = 16
# graphql-core's rule that fields can merge compares same-named fields pairwise, and stops once
# it has spent this budget (its default, 500,000, is seconds of CPU; 300 `__typename` cost
# 90,000 and 50 ms). The contract's documents and GraphiQL's introspection spend at most 3.
# A documented module attribute, read each time validation starts.
VALIDATION_BUDGET = 10_000
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = VALIDATION_BUDGET
# So a document that would spend that budget is refused before validation, from its shape: 300
# `__typename` side by side cost 22 ms to validate and 13 ms to print for the cache key before
# the budget refused them. The same field 100 times at one level is no query a frontend writes.
MAX_REPEATS = 100


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 30
    max_fields: int = 300
    max_cost: int = 10_000
    max_tokens: int = 1_000
    max_length: int = 50_000
    max_variable_values: int = 5_000

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_query_aliases,
            max_fields=settings.max_query_fields,
            max_cost=settings.max_query_cost,
            max_tokens=settings.max_query_tokens,
            max_length=settings.max_query_length,
            max_variable_values=settings.max_variable_values,
        )


# Size: before and while parsing --------------------------------------------------------------


def check_request(query: str | None, variables: Any, limits: Limits) -> None:
    """Refuse (QueryTooLarge) a document or variables over the size limits, in time bounded
    by the limits rather than by the request."""
    if query is not None and len(query) > limits.max_length:
        raise QueryTooLarge(
            f"The document is {len(query)} characters long, over the limit of "
            f"{limits.max_length}; send long values as variables",
            limit=limits.max_length,
            measured=len(query),
        )
    problem = _variables_problem(variables, limits.max_variable_values)
    if problem is not None:
        raise QueryTooLarge(f"The variables {problem[0]}", limit=problem[1])


def _variables_problem(variables: Any, max_values: int) -> tuple[str, int] | None:
    # Counted with an early exit: graphql-core would coerce every value in Python first.
    counted = 0
    pending: list[tuple[Any, int]] = [(variables, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            items: Any = value.values()
        elif isinstance(value, list):
            items = value
        else:
            continue
        if depth >= MAX_VARIABLE_DEPTH:
            return f"nest deeper than {MAX_VARIABLE_DEPTH} levels", MAX_VARIABLE_DEPTH
        counted += len(items)
        if counted > max_values:
            return f"hold more than {max_values} values", max_values
        pending.extend((item, depth + 1) for item in items)
    return None


@dataclass(frozen=True, slots=True)
class Parsed:
    """A document within the size and shape limits, with each operation's shape."""

    document: DocumentNode
    operations: tuple[tuple[str | None, Shape], ...]

    def shape(self, operation_name: str | None) -> Shape | None:
        """The chosen operation's: the one of that name, or the only one."""
        chosen = [s for name, s in self.operations if operation_name in (None, name)]
        return chosen[0] if len(chosen) == 1 else None


def parse_document(query: str, limits: Limits) -> Parsed:
    """The document, parsed and its shape checked once for the HTTP layer and Strawberry alike
    (cached by its text). QueryTooLarge over the length or the token limit, GraphQLSyntaxError
    if it is not GraphQL, GraphQLError over a limit on its shape."""
    check_request(query, None, limits)
    outcome = _read(query, limits)
    if isinstance(outcome, Parsed):
        return outcome
    # A new error each time: raising a cached one would grow its traceback with every request.
    raise outcome()


@lru_cache(maxsize=128)
def _read(query: str, limits: Limits) -> Parsed | Callable[[], Exception]:
    # A newsroom's frontends send the same few documents all day: each is parsed once. Only
    # documents within the limits are kept (each costs its tokens and nodes in memory, and in
    # every full garbage collection); a refusal is kept as the way to raise it again, so that
    # the HTTP layer and Strawberry read a hostile document once between them.
    too_many = partial(
        QueryTooLarge,
        f"The document has more than {limits.max_tokens} tokens (or comments), over the limit; "
        "split the query",
        limit=limits.max_tokens,
    )
    # Over the limit, a document is counted, not parsed; the parser enforces the same limit.
    if max(lexical_tokens(query, limits.max_tokens)) > limits.max_tokens:
        return too_many
    try:
        document = parse(
            query, max_lexical_tokens=limits.max_tokens, max_comments=limits.max_tokens
        )
    except GraphQLSyntaxError as error:
        if error.description.startswith("Document contains more than"):
            return too_many
        return partial(
            GraphQLSyntaxError,
            Source(query),
            next(iter(error.positions or ()), 0),
            error.description,
        )
    operations, refused = _shapes(document, limits)
    return refused or Parsed(document, operations)


# GraphQL's tokens as graphql-core's lexer reads them (comments apart), for a count only: a block
# string, a string, a comment, a spread, a name, a number, or any other character.
_TOKEN = re.compile(
    r'"""(?:\\"""|[^"]|"(?!""))*"""|"(?:\\.|[^"\\\n\r])*"|#[^\n\r]*|\.\.\.'
    r"|[_A-Za-z][_0-9A-Za-z]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[^\s,\ufeff]"
)


def lexical_tokens(query: str, stop_after: int) -> tuple[int, int]:
    """The document's tokens and comments, counted until either passes `stop_after`: a
    regular expression does in 1 µs a token what the parser does in 10."""
    tokens = comments = 0
    for match in _TOKEN.finditer(query):
        if match.group().startswith("#"):
            comments += 1
        else:
            tokens += 1
        if tokens > stop_after or comments > stop_after:
            break
    return tokens, comments


# Shape: before validation --------------------------------------------------------------------


def _shapes(
    document: DocumentNode, limits: Limits
) -> tuple[tuple[tuple[str | None, Shape], ...], Callable[[], GraphQLError] | None]:
    """Each operation's shape, and the refusal of the first operation or fragment over the
    depth, alias, field or spread limits, if one is."""
    operations, fragments = measure_shapes(document)
    for shape in (*(shape for _, shape in operations), *fragments.values()):
        refused = _over(shape, limits)
        if refused is not None:
            return (), refused
    return tuple(operations), None


def _over(shape: Shape, limits: Limits) -> Callable[[], GraphQLError] | None:
    checks = (
        (ErrorCode.QUERY_TOO_DEEP, "depth", limits.max_depth, shape.depth),
        (ErrorCode.QUERY_TOO_COMPLEX, "aliases", limits.max_aliases, shape.aliases),
        (ErrorCode.QUERY_TOO_COMPLEX, "field selections", limits.max_fields, shape.fields),
        # A spread of an empty fragment selects nothing, yet a bomb of them costs all the same.
        (ErrorCode.QUERY_TOO_COMPLEX, "fragment spreads", limits.max_fields, shape.spreads),
        (ErrorCode.QUERY_TOO_COMPLEX, "repetitions of one field", MAX_REPEATS, shape.repeats),
    )
    for code, what, limit, value in checks:
        if value > limit:
            return partial(_too_much, code, what, limit, value)
    return None


def _too_much(code: ErrorCode, what: str, limit: int, value: int) -> GraphQLError:
    measured = f"at least {value}" if value >= CEILING else str(value)
    return GraphQLError(
        f"The query's {what}: {measured}, over the limit of {limit}. See extensions.limit.",
        extensions={"code": code.value, "limit": limit, "measured": value},
    )


# Cost: after validation (the estimate is api/cost.py) ----------------------------------------


class QueryLimits(SchemaExtension):
    """Parses within the size limits and refuses documents over the shape limits, before
    validation; refuses operations over the cost limit before any resolver runs; reports the
    cost."""

    def __init__(self, limits: Limits | None = None) -> None:
        super().__init__()
        self.limits = limits or Limits()
        self._shape: Shape | None = None
        self._cost: int | None = None

    def on_parse(self) -> Iterator[None]:
        # In place of Strawberry's ParserCache: the same cache the HTTP layer reads through,
        # and the shape is checked there, before validation.
        context = self.execution_context
        if context.query is not None:
            parsed = parse_document(context.query, self.limits)
            context.graphql_document = parsed.document
            self._shape = parsed.shape(context.operation_name)
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and self._shape is not None:
            self._cost = estimate_cost(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables or {},
            )
        limit = self.limits.max_cost
        if self._cost is not None and self._cost > limit:
            error = _too_much(ErrorCode.QUERY_TOO_COMPLEX, "estimated cost", limit, self._cost)
            context.result = ExecutionResult(data=None, errors=[error])
        yield

    def get_results(self) -> dict[str, Any]:
        if self._shape is None or self._cost is None:
            return {}
        return {
            "cost": {
                "requested": self._cost,
                "limit": self.limits.max_cost,
                "depth": self._shape.depth,
                "fields": self._shape.fields,
            }
        }

"""The Strawberry schema: the root query composed from each domain's queries."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ValidationCache
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.article import ArticleQuery
from api.comment import CommentMutation, CommentQuery
from api.correction import CorrectionMutation, CorrectionQuery
from api.editing import EditorMutation, EditorQuery
from api.errors import log_unexpected
from api.execution import FlatObjectExecution
from api.images import ImageMutation
from api.node import Node, resolve_node
from api.nul_text import StorableText
from api.person import PersonQuery
from api.query_limits import Limits, QueryLimits
from api.search import SearchQuery
from api.suggestions import SuggestionQuery
from api.topic import TopicQuery
from api.webhooks import WebhookMutation, WebhookQuery


@strawberry.type
class NodeQuery:
    node: Node | None = strawberry.field(
        resolver=resolve_node, description="Any object by its global ID, or null."
    )


Query = merge_types(
    "Query",
    (
        ArticleQuery,
        TopicQuery,
        PersonQuery,
        SearchQuery,
        SuggestionQuery,
        NodeQuery,
        EditorQuery,
        CommentQuery,
        CorrectionQuery,
        WebhookQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (EditorMutation, CommentMutation, CorrectionMutation, WebhookMutation, ImageMutation),
)


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        context: Any = execution_context.context if execution_context else None
        request_id = getattr(context, "request_id", "-")
        if context is not None and execution_context is not None:
            # Error formatting needs the document to name the argument behind a bad value.
            context.document = execution_context.graphql_document
        log_unexpected(errors, request_id)


def build_schema(limits: Limits | None = None) -> Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        # A newsroom's frontends send the same few documents all day: parse and validate once.
        # QueryLimits parses through its own cache (the HTTP layer reads the same one) and
        # checks the document's shape there, before ValidationCache validates it. Validation's
        # cache lives at module level in Strawberry, shared by every request's instance; each
        # entry keeps a document alive, so both hold 128 (the contract has 12 operations).
        extensions=[
            lambda: QueryLimits(limits),
            lambda: ValidationCache(maxsize=128),
            StorableText,
        ],
        # Facet values and other objects of scalars only, completed without a resolver call
        # per field (api/execution.py).
        execution_context_class=FlatObjectExecution,
    )


schema = build_schema()

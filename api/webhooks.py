"""Editors' webhooks: registering endpoints, removing them and reading their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import BadUserInput
from api.permissions import require
from api.relay import from_global_id, to_global_id
from api.results import NotFound, ValidationError
from api.webhook_delivery import address_refusal
from models import webhook as webhook_model
from models.base import AnyRow
from models.enums import Role
from models.errors import InvalidInput, NotFoundError
from models.webhook import DeliveryStatus, EventKind

# The models' enums as they are: GraphQL names the members (ARTICLE_PUBLISHED), payloads the
# values (article.published).
WebhookEvent = strawberry.enum(EventKind, name="WebhookEvent")
WebhookDeliveryStatus = strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")
MAX_URL = 2_000
MAX_LOG = 100


@strawberry.type(description="One event sent (or being sent) to one endpoint.")
class WebhookDelivery:
    event: EventKind
    slug: str
    occurred_at: datetime
    status: DeliveryStatus
    attempts: int
    response_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def _delivery(row: AnyRow) -> WebhookDelivery:
    return WebhookDelivery(
        event=EventKind(row.kind),
        slug=row.slug,
        occurred_at=row.occurred_at,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        response_status=row.response_status,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
        delivered_at=row.delivered_at,
    )


@strawberry.type(description="An endpoint that hears of stories published, changed or pulled.")
class Webhook:
    id: strawberry.ID
    url: str
    events: list[EventKind]
    created_at: datetime
    pk: strawberry.Private[int]

    @strawberry.field(description="The latest deliveries, newest first (first: 1 to 100).")
    async def deliveries(self, info: Info, first: int = 20) -> list[WebhookDelivery]:
        if not 1 <= first <= MAX_LOG:
            raise BadUserInput("first", f"ask for 1 to {MAX_LOG} deliveries")
        async with info.context.engine.connect() as conn:
            found = await webhook_model.deliveries_by_webhook(conn, [self.pk], first)
        return [_delivery(row) for row in found[self.pk]]


def _webhook(row: AnyRow | webhook_model.Webhook) -> Webhook:
    return Webhook(
        id=strawberry.ID(to_global_id("Webhook", row.id)),
        pk=row.id,
        url=row.url,
        events=[EventKind(kind) for kind in row.events],
        created_at=row.created_at,
    )


@strawberry.type
class WebhookCreated:
    webhook: Webhook
    secret: str = strawberry.field(
        description="The signing secret (whsec_ and base64), shown this once: keep it."
    )


@strawberry.type
class WebhookDeleted:
    id: strawberry.ID


CreateResult = Annotated[WebhookCreated | ValidationError, strawberry.union("CreateWebhookResult")]
DeleteResult = Annotated[WebhookDeleted | NotFound, strawberry.union("DeleteWebhookResult")]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Editors: register an endpoint for these events; deliveries are signed "
        "(Standard Webhooks) with the secret answered this once."
    )
    async def create_webhook(self, info: Info, url: str, events: list[EventKind]) -> CreateResult:
        editor = require(info.context.viewer, Role.EDITOR, bad_token=info.context.bad_token)
        url = url.strip()
        if not url or len(url) > MAX_URL:
            return ValidationError(
                field="url", message=f"give an address of 1 to {MAX_URL:,} characters"
            )
        settings = info.context.services.settings if info.context.services else None
        allow_private = bool(settings and settings.webhook_allow_private)
        refusal = await address_refusal(url, allow_private)
        if refusal is not None:
            return ValidationError(field="url", message=refusal)
        try:
            async with info.context.write() as session:
                created = await webhook_model.create_webhook(session, url, events, editor.name)
        except InvalidInput as exc:
            return ValidationError.of(exc)
        return WebhookCreated(webhook=_webhook(created), secret=created.secret)

    @strawberry.mutation(description="Editors: remove an endpoint and its delivery log.")
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> DeleteResult:
        require(info.context.viewer, Role.EDITOR, bad_token=info.context.bad_token)
        type_name, pk = from_global_id(id)
        if type_name != "Webhook":
            return NotFound(message="no such webhook")
        try:
            async with info.context.write() as session:
                await webhook_model.delete_webhook(session, pk)
        except NotFoundError:
            return NotFound(message="no such webhook")
        return WebhookDeleted(id=id)


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Editors: the registered endpoints, oldest first.")
    async def webhooks(self, info: Info) -> list[Webhook]:
        require(info.context.viewer, Role.EDITOR, bad_token=info.context.bad_token)
        async with info.context.engine.connect() as conn:
            rows = await webhook_model.webhooks(conn)
        return [_webhook(row) for row in rows]

"""Readers' correction suggestions and the editors' list of them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.article import CorrectionNote
from api.context import Info
from api.permissions import require
from api.relay import from_global_id, to_global_id
from api.results import NotFound, RateLimited, ValidationError
from models import correction as correction_model
from models.base import AnyRow
from models.enums import CorrectionStatus, Role
from models.errors import InvalidInput, NotFoundError


@strawberry.input(description="Text a reader highlighted in a story, and what is wrong with it.")
class SuggestCorrectionInput:
    article_slug: str
    quote: str = strawberry.field(description="Must occur in the story as it reads now.")
    message: str
    contact_email: str | None = None


@strawberry.type
class CorrectionReceived:
    id: strawberry.ID


@strawberry.type(description="A reader's suggestion, as editors read it.")
class Correction:
    id: strawberry.ID
    quote: str
    message: str
    contact_email: str | None
    open: bool
    created_at: datetime
    resolved_by: str | None


@strawberry.type
class CorrectionResolved:
    correction: Correction


SuggestResult = Annotated[
    CorrectionReceived | ValidationError | RateLimited, strawberry.union("SuggestCorrectionResult")
]


@strawberry.type
class CorrectionNoteAdded:
    note: CorrectionNote


ResolveResult = Annotated[
    CorrectionResolved | ValidationError | NotFound, strawberry.union("ResolveCorrectionResult")
]
NoteResult = Annotated[
    CorrectionNoteAdded | ValidationError | NotFound, strawberry.union("AddCorrectionNoteResult")
]


def _correction(row: AnyRow | correction_model.Correction) -> Correction:
    """From the list's row or from the model a mutation answers with."""
    return Correction(
        id=to_global_id("Correction", row.id),
        quote=row.quote,
        message=row.message,
        contact_email=row.contact_email,
        open=row.status == CorrectionStatus.OPEN,
        created_at=row.created_at,
        resolved_by=row.resolved_by,
    )


@strawberry.type
class CorrectionMutation:
    @strawberry.mutation(description="Suggest a correction to a story; open to every reader.")
    async def suggest_correction(self, info: Info, input: SuggestCorrectionInput) -> SuggestResult:
        context = info.context
        assert context.services is not None  # every served request has them (api/view.py)
        wait = await context.services.rate_limits.retry_after("correction", context.client_address)
        if wait is not None:
            return RateLimited(retry_after_seconds=wait)
        try:
            async with context.write() as session:
                correction = await correction_model.suggest_correction(
                    session, input.article_slug, input.quote, input.message, input.contact_email
                )
        except InvalidInput as exc:
            return ValidationError.of(exc)
        return CorrectionReceived(id=to_global_id("Correction", correction.id))

    @strawberry.mutation(
        description="Editors: mark a suggestion as dealt with; with `note`, publish that "
        "correction note under the story too."
    )
    async def resolve_correction(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> ResolveResult:
        editor = require(info.context.viewer, Role.EDITOR, bad_token=info.context.bad_token)
        type_name, pk = from_global_id(id)
        if type_name != "Correction":
            return NotFound(message="no such correction")
        try:
            async with info.context.write() as session:
                correction = await correction_model.resolve_correction(
                    session, pk, editor.name, note
                )
                result = _correction(correction) if correction else None
        except InvalidInput as exc:
            # The note's text is this mutation's `note` argument.
            field = "note" if exc.field == "text" else exc.field
            return ValidationError(field=field, message=exc.message)
        if result is None:
            return NotFound(message="no such correction")
        return CorrectionResolved(correction=result)

    @strawberry.mutation(
        description="Editors: publish a dated correction note under a story readers have seen "
        '("This article was amended on ... to correct ..."); the story counts as updated.'
    )
    async def add_correction_note(self, info: Info, slug: str, text: str) -> NoteResult:
        editor = require(info.context.viewer, Role.EDITOR, bad_token=info.context.bad_token)
        try:
            async with info.context.write() as session:
                note = await correction_model.add_note(session, slug, text, editor.name)
        except NotFoundError:
            return NotFound(message=f"no story {slug!r}")
        except InvalidInput as exc:
            return ValidationError.of(exc)
        return CorrectionNoteAdded(note=CorrectionNote(text=note.text, created_at=note.created_at))


@strawberry.type
class CorrectionQuery:
    @strawberry.field(description="Editors: readers' suggestions on a story, oldest first.")
    async def corrections(
        self, info: Info, article_slug: str, open_only: bool = True
    ) -> list[Correction]:
        require(info.context.viewer, Role.EDITOR, bad_token=info.context.bad_token)
        status = CorrectionStatus.OPEN if open_only else None
        async with info.context.engine.connect() as conn:
            rows = await correction_model.corrections_for_article(conn, article_slug, status)
        return [_correction(row) for row in rows]

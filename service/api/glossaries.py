"""Admin API for glossaries: CRUD, CSV/TSV import and export, scoped to the caller's workspace."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from service.accounts import audit
from service.api.auth import principal_of
from service.api.schemas import NON_BLANK
from service.container import Services
from service.db.models import Glossary
from service.errors import ServiceError
from service.glossary import csvio, store
from service.glossary.store import MAX_CHANNEL_CHARS, MAX_NAME_CHARS
from service.glossary.terms import Problems, RawRow, Row, validate

AnyRequest = Request[Any, Any, Any]


class EntryIn(msgspec.Struct, frozen=True):
    source_lang: str
    source_term: str
    target_lang: str | None = None
    # Empty or null: a do-not-translate term (whatever the target language).
    target_term: str | None = None


class Entry(msgspec.Struct, frozen=True):
    source_lang: str
    target_lang: str | None
    source_term: str
    target_term: str | None


# What store._check_name accepts: 1 to 200 characters, not only white space.
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_CHARS, pattern=NON_BLANK)]
# What store._check_channel accepts: a Rocket.Chat room id of 1 to 64 characters.
ChannelId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_CHANNEL_CHARS, pattern=NON_BLANK)
]


class GlossaryCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    # Null: applies to the whole workspace; a Rocket.Chat room id: only to that channel.
    channel_id: ChannelId | None = None
    entries: list[EntryIn] = msgspec.field(default_factory=list)


class GlossaryUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Only the fields given change; `entries` replaces every entry."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    channel_id: ChannelId | msgspec.UnsetType | None = msgspec.UNSET
    entries: list[EntryIn] | msgspec.UnsetType = msgspec.UNSET


class GlossarySummary(msgspec.Struct, frozen=True):
    id: str
    name: str
    channel_id: str | None
    version: int
    entry_count: int
    created_at: str
    updated_at: str


class GlossaryView(msgspec.Struct, frozen=True):
    id: str
    name: str
    channel_id: str | None
    version: int
    entry_count: int
    created_at: str
    updated_at: str
    entries: list[Entry]


class GlossaryList(msgspec.Struct, frozen=True):
    glossaries: list[GlossarySummary]


class UnsupportedMediaType(ServiceError):
    status_code = 415
    code = "unsupported_media_type"


class GlossariesController(Controller):
    path = "/glossaries"
    tags = ["glossaries"]  # noqa: RUF012 - Litestar reads it as a class attribute
    opt = {"scope": "admin"}  # noqa: RUF012

    @get("/", summary="This workspace's glossaries")
    async def list_glossaries(
        self, request: AnyRequest, services: Services, channel_id: FromQuery[str | None] = None
    ) -> GlossaryList:
        principal = principal_of(request)
        async with services.sessions() as session:
            found = await store.listing(session, principal.workspace_id, channel_id=channel_id)
        return GlossaryList(glossaries=[_summary(g, n) for g, n in found])

    @post("/", status_code=201, summary="Create a glossary")
    async def create(
        self, request: AnyRequest, services: Services, data: JSONBody[GlossaryCreate]
    ) -> GlossaryView:
        principal = principal_of(request)
        entries = _entries(data.entries)
        async with services.sessions.begin() as session:
            glossary = await store.create(
                session,
                principal.workspace_id,
                name=data.name,
                channel_id=data.channel_id,
                entries=entries,
            )
            await _audit(request, session, "glossary.create", glossary, None, entries)
            view = await _view(session, glossary)
        _changed(services, principal.workspace_id)
        return view

    @get("/{glossary_id:str}", summary="A glossary and its entries")
    async def show(
        self, request: AnyRequest, services: Services, glossary_id: FromPath[str]
    ) -> GlossaryView:
        principal = principal_of(request)
        async with services.sessions() as session:
            glossary = await store.get(session, principal.workspace_id, store.parse_id(glossary_id))
            return await _view(session, glossary)

    @put("/{glossary_id:str}", status_code=200, summary="Rename, move or replace the entries")
    async def update(
        self,
        request: AnyRequest,
        services: Services,
        glossary_id: FromPath[str],
        data: JSONBody[GlossaryUpdate],
    ) -> GlossaryView:
        principal = principal_of(request)
        gid = store.parse_id(glossary_id)
        changes = {
            k: v
            for k, v in (("name", data.name), ("channel_id", data.channel_id))
            if v is not msgspec.UNSET
        }
        entries = None if data.entries is msgspec.UNSET else _entries(data.entries)
        async with services.sessions.begin() as session:
            before = await store.get(session, principal.workspace_id, gid)
            before_record = _record(before, None)
            glossary = await store.update(
                session, principal.workspace_id, gid, changes=changes, entries=entries
            )
            await _audit(request, session, "glossary.update", glossary, before_record, entries)
            view = await _view(session, glossary)
        _changed(services, principal.workspace_id)
        return view

    @delete("/{glossary_id:str}", status_code=204, summary="Delete a glossary")
    async def remove(
        self, request: AnyRequest, services: Services, glossary_id: FromPath[str]
    ) -> None:
        principal = principal_of(request)
        async with services.sessions.begin() as session:
            glossary = await store.get(session, principal.workspace_id, store.parse_id(glossary_id))
            before = _record(glossary, None)
            await store.delete(session, principal.workspace_id, glossary.id)
            await audit.record(
                session,
                actor=audit.actor_of(principal),
                action="glossary.delete",
                target=f"glossaries/{glossary.id}",
                workspace_id=principal.workspace_id,
                before=before,
            )
        _changed(services, principal.workspace_id)

    @post(
        "/{glossary_id:str}/import",
        status_code=200,
        summary="Import entries from CSV or TSV (text/csv, text/tab-separated-values)",
    )
    async def import_file(
        self,
        request: AnyRequest,
        services: Services,
        glossary_id: FromPath[str],
        mode: FromQuery[Literal["replace", "merge"]] = "replace",
    ) -> GlossaryView:
        principal = principal_of(request)
        gid = store.parse_id(glossary_id)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in csvio.MEDIA_TYPES:
            raise UnsupportedMediaType(
                "send the file as text/csv or text/tab-separated-values",
                details={"accepted": sorted(csvio.MEDIA_TYPES)},
            )
        async with services.sessions() as session:
            # Not found before parsing: another workspace's id says nothing about the file.
            await store.get(session, principal.workspace_id, gid)
        entries = csvio.parse(await request.body(), media_type)
        async with services.sessions.begin() as session:
            before = _record(await store.get(session, principal.workspace_id, gid), None)
            if mode == "merge":
                glossary = await store.merge(session, principal.workspace_id, gid, entries)
            else:
                glossary = await store.update(
                    session, principal.workspace_id, gid, changes={}, entries=entries
                )
            await _audit(request, session, f"glossary.import.{mode}", glossary, before, entries)
            view = await _view(session, glossary)
        _changed(services, principal.workspace_id)
        return view

    @get("/{glossary_id:str}/export", summary="Export the entries as CSV (or TSV)")
    async def export(
        self,
        request: AnyRequest,
        services: Services,
        glossary_id: FromPath[str],
        format: FromQuery[Literal["csv", "tsv"]] = "csv",
    ) -> Response[str]:
        principal = principal_of(request)
        async with services.sessions() as session:
            glossary = await store.get(session, principal.workspace_id, store.parse_id(glossary_id))
            rows = await store.rows(session, glossary.id)
        media_type = csvio.CSV if format == "csv" else csvio.TSV
        filename = re.sub(r"[^A-Za-z0-9._-]+", "-", glossary.name).strip("-") or "glossary"
        return Response(
            csvio.render(rows, media_type),
            media_type=media_type,  # Litestar adds "; charset=utf-8" to text types
            headers={
                "Content-Disposition": f'attachment; filename="{filename}.{format}"',
                "X-Glossary-Version": str(glossary.version),
            },
        )


def _entries(items: list[EntryIn]) -> list[Row]:
    problems = Problems()
    rows = validate(
        (
            RawRow(
                where=f"entries[{i}]",
                source_lang=e.source_lang,
                target_lang=e.target_lang or "",
                source_term=e.source_term,
                target_term=e.target_term or "",
            )
            for i, e in enumerate(items)
        ),
        problems,
    )
    problems.raise_if_any()
    return rows


def _changed(services: Services, workspace_id: uuid.UUID) -> None:
    services.glossaries.invalidate(workspace_id)


def _summary(g: Glossary, count: int) -> GlossarySummary:
    return GlossarySummary(
        id=str(g.id),
        name=g.name,
        channel_id=g.channel_id,
        version=g.version,
        entry_count=count,
        created_at=g.created_at.isoformat(),
        updated_at=g.updated_at.isoformat(),
    )


async def _view(session: Any, g: Glossary) -> GlossaryView:
    rows = sorted(
        await store.rows(session, g.id),
        key=lambda r: (r.source_lang, r.target_lang or "", r.source_term.casefold()),
    )
    return GlossaryView(
        id=str(g.id),
        name=g.name,
        channel_id=g.channel_id,
        version=g.version,
        entry_count=len(rows),
        created_at=g.created_at.isoformat(),
        updated_at=g.updated_at.isoformat(),
        entries=[Entry(r.source_lang, r.target_lang, r.source_term, r.target_term) for r in rows],
    )


def _record(g: Glossary, entries: list[Row] | None) -> dict[str, Any]:
    record: dict[str, Any] = {"name": g.name, "channel_id": g.channel_id, "version": g.version}
    if entries is not None:
        record["entry_count"] = len(entries)
    return record


async def _audit(
    request: AnyRequest,
    session: Any,
    action: str,
    glossary: Glossary,
    before: dict[str, Any] | None,
    entries: list[Row] | None,
) -> None:
    principal = principal_of(request)
    await audit.record(
        session,
        actor=audit.actor_of(principal),
        action=action,
        target=f"glossaries/{glossary.id}",
        workspace_id=principal.workspace_id,
        before=before,
        after=_record(glossary, entries),
    )

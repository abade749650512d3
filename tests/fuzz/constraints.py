"""The few rules of the API that JSON Schema cannot state, for the fuzz test: each drops just the
generated cases that break its one rule (all checks still run on every other case), and the
glossary files' strategy generates what a CSV/TSV file's rows must be.

Everything else the server enforces is in the OpenAPI document (service/api/openapi.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

from service.accounts.providers import SPECS
from service.api.usage import MAX_RANGE_DAYS
from service.glossary import csvio
from service.settings import LimitSettings
from service.translation import languages


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _entries_agree(body: Any) -> bool:
    """No two entries the same after normalising (codes, case of the term), and a translated
    term's two languages differ: relations between items and between fields."""
    entries = body.get("entries") if isinstance(body, dict) else None
    seen: set[tuple[str | None, str | None, str]] = set()
    for entry in entries if isinstance(entries, list) else []:
        source = languages.normalize(entry["source_lang"])
        target = None
        if not _blank(entry.get("target_term")):
            target = languages.normalize(entry.get("target_lang") or "")
            if source and target and languages.same_language(source, target):
                return False
        key = (source, target, entry["source_term"].strip().casefold())
        if key in seen:
            return False
        seen.add(key)
    return True


def _provider_fields(case: schemathesis.Case) -> bool:
    """Which provider takes a key, a model or needs a URL is the path's `name`'s: JSON Schema
    cannot tie a body to a path parameter's value."""
    spec = SPECS.get(case.path_parameters.get("name", ""))
    body = case.body if isinstance(case.body, dict) else {}
    if spec is None:
        return True
    if spec.model_field is None and body.get("model") is not None:
        return False
    if spec.key_required and "api_key" in body and _blank(body["api_key"]):
        return False
    return not (spec.url_required and "base_url" in body and _blank(body["base_url"]))


def _usage_range(today: date) -> Callable[[schemathesis.Case], bool]:
    """`from` no later than `to`, at most MAX_RANGE_DAYS apart (defaults: `to` today, `from`
    the first of `to`'s month): a relation between two parameters and the clock."""

    def keep(case: schemathesis.Case) -> bool:
        query = case.query or {}
        try:
            end = date.fromisoformat(query["to"]) if "to" in query else today
            start = date.fromisoformat(query["from"]) if "from" in query else end.replace(day=1)
        except (TypeError, ValueError):
            return True
        return start <= end and end - start <= timedelta(days=MAX_RANGE_DAYS)

    return keep


def _no_empty_arrays(case: schemathesis.Case) -> bool:
    """A query parameter given as an empty array is sent as no parameter at all: that request
    breaks nothing, so it is not a negative case."""
    return not any(value == [] for value in (case.query or {}).values())


def _texts_within(limit: int, separator: str) -> Callable[[schemathesis.Case], bool]:
    """LibreTranslate counts an array of texts' characters summed (joined, for detection)
    against the one text limit: JSON Schema bounds each item, not their sum."""

    def keep(case: schemathesis.Case) -> bool:
        q = case.body.get("q") if isinstance(case.body, dict) else None
        if not isinstance(q, list) or not all(isinstance(t, str) for t in q):
            return True
        return len(separator.join(q)) <= limit

    return keep


def _context_within(limit: int) -> Callable[[schemathesis.Case], bool]:
    """The context's characters (texts and authors) summed, within their limit: JSON Schema
    bounds each message, not their sum."""

    def keep(case: schemathesis.Case) -> bool:
        context = case.body.get("context") if isinstance(case.body, dict) else None
        messages = context if isinstance(context, list) else []
        return sum(len(m.get("text", "")) + len(m.get("author") or "") for m in messages) <= limit

    return keep


def install(
    api_schema: schemathesis.BaseSchema, *, today: date, limits: LimitSettings, key: str
) -> None:
    """Register the rules above on `api_schema` (positive cases only, but for the one negative
    rule: a negative case breaks the schema, and the server refuses it whatever it holds), and
    give valid LibreTranslate requests a real API key (it travels in their body), so that they
    are translated rather than refused as unknown keys."""
    positive: dict[str, Callable[[schemathesis.Case], bool]] = {
        "POST /api/v1/glossaries": lambda case: _entries_agree(case.body),
        "PUT /api/v1/glossaries/{glossary_id}": lambda case: _entries_agree(case.body),
        "PUT /api/v1/providers/{name}": _provider_fields,
        "GET /api/v1/usage": _usage_range(today),
        "POST /api/v1/translate": _context_within(limits.max_context_chars),
        "POST /api/v1/translate/batch": _context_within(limits.max_context_chars),
        "POST /libretranslate/translate": _texts_within(limits.max_text_chars, ""),
        "POST /libretranslate/detect": _texts_within(limits.max_text_chars, "\n"),
    }
    negative = {"GET /api/v1/usage": _no_empty_arrays}

    def filter_case(context: Any, case: schemathesis.Case) -> bool:
        label = f"{case.method.upper()} {case.operation.path}"
        mode = case.meta.generation.mode if case.meta is not None else GenerationMode.POSITIVE
        rules = positive if mode is GenerationMode.POSITIVE else negative
        rule = rules.get(label)
        return rule is None or rule(case)

    def map_case(context: Any, case: schemathesis.Case) -> schemathesis.Case:
        positive = case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE
        libre = case.operation.path.startswith("/libretranslate/")
        if positive and libre and isinstance(case.body, dict):
            case.body = {**case.body, "api_key": key}
        return case

    api_schema.hooks.register_hook_with_name(filter_case, "filter_case")
    api_schema.hooks.register_hook_with_name(map_case, "map_case")


# -- glossary files ------------------------------------------------------------------------

_TERM = st.from_regex(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ0-9 ,.'\"]{0,24}[A-Za-zÀ-ÿ0-9]", fullmatch=True)
_CODES = sorted(languages.LANGUAGES)


@st.composite
def _rows(draw: st.DrawFn) -> list[tuple[str, str, str, str]]:
    rows: dict[tuple[str, str, str], tuple[str, str, str, str]] = {}
    for _ in range(draw(st.integers(0, 6))):
        source = draw(st.sampled_from(_CODES))
        target = draw(
            st.sampled_from([c for c in _CODES if not languages.same_language(source, c)])
        )
        term = draw(_TERM)
        translated = draw(st.one_of(st.just(""), _TERM))
        key = (source, target if translated else "", term.casefold())
        rows.setdefault(key, (source, target if translated else "", term, translated))
    return list(rows.values())


def _file(delimiter: str) -> st.SearchStrategy[bytes]:
    """A valid glossary file: the header and rows of distinct, well-formed entries."""

    def render(rows: list[tuple[str, str, str, str]]) -> bytes:
        out = io.StringIO()
        tsv = delimiter == "\t"
        writer = csv.writer(
            out,
            delimiter=delimiter,
            quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
            quotechar=None if tsv else '"',
            lineterminator="\r\n",
        )
        writer.writerow(["source_lang", "target_lang", "source_term", "target_term"])
        writer.writerows(rows)
        return out.getvalue().encode()

    return _rows().map(render)


def register_glossary_files() -> None:
    """The import's bodies are files with rows of their own rules, not JSON: generated so."""
    for media_type, delimiter in csvio.MEDIA_TYPES.items():
        schemathesis.openapi.media_type(media_type, _file(delimiter))

"""CSV and TSV import/export of glossaries.

Columns `source_lang,target_lang,source_term,target_term`, with an optional header row (which
may put the columns in any order and leave out `target_lang`/`target_term`). Without a header,
rows have 3 or 4 fields in that order. CSV follows RFC 4180 (quotes, embedded commas); TSV
follows the IANA text/tab-separated-values format (no quoting; fields cannot contain tabs).

Spreadsheets run cells starting with `= + - @` as formulas, so export writes such terms with a
leading apostrophe and import removes it again: a file survives the round trip unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Final, Literal

from service.errors import ValidationFailed
from service.glossary.terms import COLUMNS, Problems, RawRow, Row, validate

CSV: Final = "text/csv"
TSV: Final = "text/tab-separated-values"
MEDIA_TYPES: Final = {CSV: ",", TSV: "\t"}
_Quoting = Literal[0, 1, 2, 3]
_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")


def parse(data: bytes, media_type: str) -> list[Row]:
    """Rows of a CSV/TSV file; a 422 naming each bad line otherwise."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"the file is not UTF-8 text (byte {exc.start})", code="invalid_glossary"
        ) from None
    problems = Problems()
    rows = validate(_raw_rows(text, MEDIA_TYPES[media_type], problems), problems)
    problems.raise_if_any()
    return rows


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields); blank lines are skipped."""
    quoting: _Quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quoting=quoting,
        quotechar=None if delimiter == "\t" else '"',
        strict=True,
    )
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationFailed(
                f"line {start}: not valid CSV ({exc})",
                code="invalid_glossary",
                details={"errors": [{"where": f"line {start}", "message": str(exc)}]},
            ) from None
        if any(f.strip() for f in fields):
            yield start, fields
        start = reader.line_num + 1


def _raw_rows(text: str, delimiter: str, problems: Problems) -> Iterator[RawRow]:
    records = _records(text, delimiter)
    first = next(records, None)
    if first is None:
        return
    header = [f.strip().lower() for f in first[1]]
    positions: dict[str, int] | None = None
    if "source_term" in header:
        unknown = [h for h in header if h not in COLUMNS]
        missing = [c for c in ("source_lang", "source_term") if c not in header]
        if unknown or missing or len(set(header)) != len(header):
            problems.add(
                f"line {first[0]}",
                f"the header must name columns among {', '.join(COLUMNS)} once each, "
                "including source_lang and source_term",
            )
            return
        positions = {name: header.index(name) for name in header}
        body: Iterable[tuple[int, list[str]]] = records
    else:
        body = [first, *records]
    for line, fields in body:
        where = f"line {line}"
        if positions is None:
            if len(fields) not in (3, 4):
                problems.add(
                    where,
                    f"expected 4 fields ({','.join(COLUMNS)}), got {len(fields)}",
                )
                continue
            values = dict(zip(COLUMNS, [*fields, ""][:4], strict=True))
        else:
            if len(fields) > len(positions):
                problems.add(where, f"expected {len(positions)} fields, got {len(fields)}")
                continue
            padded = [*fields, *[""] * (len(positions) - len(fields))]
            values = {name: padded[i] for name, i in positions.items()}
        yield RawRow(
            where=where,
            source_lang=values.get("source_lang", ""),
            target_lang=values.get("target_lang", ""),
            source_term=_unescape(values.get("source_term", "")),
            target_term=_unescape(values.get("target_term", "")),
        )


def render(rows: Iterable[Row], media_type: str) -> str:
    out = io.StringIO()
    delimiter = MEDIA_TYPES[media_type]
    quoting: _Quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    writer = csv.writer(
        out,
        delimiter=delimiter,
        quoting=quoting,
        quotechar=None if delimiter == "\t" else '"',
        lineterminator="\r\n",
    )
    writer.writerow(COLUMNS)
    ordered = sorted(
        rows, key=lambda r: (r.source_lang, r.target_lang or "", r.source_term.casefold())
    )
    for r in ordered:
        writer.writerow(
            [
                r.source_lang,
                r.target_lang or "",
                _escape(r.source_term),
                _escape(r.target_term or ""),
            ]
        )
    return out.getvalue()


def _escape(term: str) -> str:
    if term.startswith(_FORMULA) or (term.startswith("'") and _ambiguous(term[1:])):
        return "'" + term
    return term


def _unescape(term: str) -> str:
    text = term.strip()
    return text[1:] if text.startswith("'") and _ambiguous(text[1:]) else text


def _ambiguous(rest: str) -> bool:
    return rest.startswith((*_FORMULA, "'"))

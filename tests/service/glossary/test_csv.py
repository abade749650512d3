"""CSV/TSV glossary files: headers, do-not-translate rows, line-numbered errors, round trip."""

from __future__ import annotations

import pytest

from service.errors import ValidationFailed
from service.glossary.csvio import CSV, TSV, parse, render
from service.glossary.terms import Row


def test_rows_with_and_without_header() -> None:
    with_header = (
        "\ufeffsource_term,target_term,source_lang,target_lang\r\n"
        '"release, stable",versión estable,en,es\r\n'
        "Kubernetes,,EN,\r\n"
    ).encode()
    assert parse(with_header, CSV) == [
        Row("en", "es", "release, stable", "versión estable"),
        Row("en", None, "Kubernetes", None),
    ]
    positional = b"en,es,meeting,junta\n\nen,,Acme\nen,fr,Widget,\n"
    # A do-not-translate term applies to every target: its target_lang is dropped.
    assert parse(positional, CSV) == [
        Row("en", "es", "meeting", "junta"),
        Row("en", None, "Acme", None),
        Row("en", None, "Widget", None),
    ]


def test_errors_name_the_line_and_the_problem() -> None:
    text = (
        "source_lang,target_lang,source_term,target_term\n"
        "en,es,ok,bien\n"
        '"en","es","multi\nline",x\n'  # a record spanning lines 3-4
        "xx,es,hello,hola\n"  # line 5
        "en,es,,hola\n"  # line 6
        "en,es,OK,vale\n"  # line 7: duplicate of line 2 (case-insensitive)
        "en,es,a,b,c\n"  # line 8
    )
    with pytest.raises(ValidationFailed) as caught:
        parse(text.encode(), CSV)
    error = caught.value
    assert error.status_code == 422 and error.code == "invalid_glossary"
    found = {(e["where"], e["message"]) for e in (error.details or {})["errors"]}
    assert found == {
        ("line 3", "source_term contains a tab, a line break or a ⟦ ⟧ bracket"),
        ("line 5", "source_lang 'xx' is not a known language code"),
        ("line 6", "source_term is empty"),
        ("line 7", "duplicate of line 2 (same source_lang, target_lang and source_term)"),
        ("line 8", "expected 4 fields, got 5"),
    }
    assert error.message.startswith("line 3: ") and "(and 4 more problems)" in error.message


def test_unparseable_files() -> None:
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        parse("en,es,caf\u00e9,x".encode("latin-1"), CSV)
    with pytest.raises(ValidationFailed, match="line 2: not valid CSV"):
        parse(b'en,es,a,b\nen,es,"unterminated,x\n', CSV)
    with pytest.raises(ValidationFailed, match="line 1: the header"):
        parse(b"source_term,flavour\nx,y\n", CSV)
    with pytest.raises(ValidationFailed, match="line 1: source_lang and target_lang are the same"):
        parse(b"en,en-GB,colour,color\n", CSV)


@pytest.mark.parametrize("media_type", [CSV, TSV])
def test_round_trip_keeps_every_row_exactly(media_type: str) -> None:
    rows = [
        Row("de", "en", "Straße", "street"),
        Row("en", "es", "=SUM(A1)", "@here"),  # spreadsheet formulas, neutralised on export
        Row("en", "es", "'quoted", "-minus"),
        Row("en", "es", '"Quoted", with comma', "con coma"),
        Row("en", None, "Kubernetes", None),
        Row("en", "pt-BR", "release", "versão"),
    ]
    text = render(rows, media_type)
    assert "\n=" not in text and ",=" not in text and "\t=" not in text
    assert sorted(parse(text.encode(), media_type), key=repr) == sorted(rows, key=repr)
    assert render(parse(text.encode(), media_type), media_type) == text

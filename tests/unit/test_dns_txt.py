# SPDX-License-Identifier: MIT
"""TXT (filter_plugins/dns_txt.py): txt_strings, txt_zone and txt_single."""
from __future__ import annotations

import math
import re

import pytest
from dns_helpers import rejects
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize("length, sizes", [
    (1, [1]), (254, [254]), (255, [255]), (256, [255, 1]), (510, [255, 255]), (511, [255, 255, 1]),
])
def test_txt_strings_255_octet_edges(filters, length, sizes):
    record = "".join(chr(33 + i % 94) for i in range(length))
    parts = filters["txt_strings"](record)
    assert [len(part) for part in parts] == sizes
    assert "".join(parts) == record


def test_txt_strings_limit_and_empty_record(filters):
    assert filters["txt_strings"]("abcdefg", limit=3) == ["abc", "def", "g"]
    assert filters["txt_strings"]("") == [""]
    assert filters["txt_zone"]("") == '""'


def test_txt_zone_quotes_and_escapes(filters):
    assert filters["txt_zone"]('v=x; say "hi" \\o/') == '"v=x; say \\"hi\\" \\\\o/"'
    assert filters["txt_zone"]("a" * 256) == f'"{"a" * 255}" "a"'


def test_txt_single(filters):
    assert filters["txt_single"]("v=spf1 mx -all") == "v=spf1 mx -all"
    assert filters["txt_single"](["v=spf1 mx ", "-all"]) == "v=spf1 mx -all"
    assert filters["txt_single"]([]) == ""


@pytest.mark.parametrize("name, args, needle", [
    ("txt_strings", ("v=spf1 café",), "'é' at position 10"),
    ("txt_strings", ("v=DKIM1;\np=abc",), "'\\n' at position 8"),
    ("txt_strings", ("tab\there",), "'\\t' at position 3"),
    ("txt_strings", (42,), "int: 42"),
    ("txt_strings", ("abc", 0), "limit must be an integer from 1 to 255, got 0"),
    ("txt_strings", ("abc", 256), "got 256"),
    ("txt_zone", ("naïve",), "'ï' at position 2"),
    ("txt_zone", (["a"],), "['a']"),
    ("txt_single", ("naïve",), "'ï'"),
    ("txt_single", (["ok", "bäd"],), "'ä' at position 1 of 'bäd'"),
    ("txt_single", ([1],), "int: 1"),
    ("txt_single", (None,), "None"),
])
def test_txt_filters_reject_bad_input(filters, name, args, needle):
    rejects(filters[name], needle, *args)


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=1200)
ZONE_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_zone(text: str) -> list[str]:
    """Read zone-file character-strings: quoted, separated by one space, backslash escapes."""
    matches = list(ZONE_STRING.finditer(text))
    assert " ".join(m.group(0) for m in matches) == text, "unquoted text or bad separators"
    return [re.sub(r"\\(.)", r"\1", m.group(1)) for m in matches]


@given(printable, st.integers(1, 255))
def test_txt_strings_properties(filters, record, limit):
    parts = filters["txt_strings"](record, limit)
    assert "".join(parts) == record
    assert all(len(part.encode("ascii")) <= limit for part in parts)
    assert len(parts) == max(1, math.ceil(len(record) / limit))
    assert all(parts) or parts == [""] == [record]


@given(printable)
def test_txt_zone_parses_back(filters, record):
    chunks = parse_zone(filters["txt_zone"](record))
    assert "".join(chunks) == record
    assert chunks == filters["txt_strings"](record)
    assert filters["txt_single"](chunks) == record

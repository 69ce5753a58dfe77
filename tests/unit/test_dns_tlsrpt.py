# SPDX-License-Identifier: MIT
"""TLS-RPT (filter_plugins/dns_tlsrpt.py): tlsrpt_record."""
from __future__ import annotations

import pytest
from dns_helpers import rejects


@pytest.mark.parametrize("rua, record", [
    ("mailto:tls@example.test", "v=TLSRPTv1; rua=mailto:tls@example.test"),
    (["mailto:tls@example.test", "https://reports.example.test/v1/tlsrpt"],
     "v=TLSRPTv1; rua=mailto:tls@example.test,https://reports.example.test/v1/tlsrpt"),
    ([" https://reports.example.test:8443/x "], "v=TLSRPTv1; rua=https://reports.example.test:8443/x"),
])
def test_tlsrpt_record(filters, rua, record):
    assert filters["tlsrpt_record"](rua) == record


@pytest.mark.parametrize("rua, needle", [
    ("tls@example.test", "'tls@example.test' must be a mailto: or https: URI"),
    ("http://reports.example.test/", "'http://reports.example.test/'"),
    ("https://reports.example.test/a,b", "'https://reports.example.test/a,b'"),
    ("https://exa mple.test/", "'https://exa mple.test/'"),
    ("https://localhost/", "'https://localhost/'"),
    ("https://reports.example.test:99999/", "'https://reports.example.test:99999/'"),
    ("mailto:tls@localhost", "'mailto:tls@localhost'"),
    ("mailto:tls@example.test!10m", "'mailto:tls@example.test!10m'"),
    ([], "at least one"),
    ([None], "None"),
])
def test_tlsrpt_record_rejects_bad_uris(filters, rua, needle):
    rejects(filters["tlsrpt_record"], needle, rua)

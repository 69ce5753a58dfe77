# SPDX-License-Identifier: MIT
"""mailfort-postfix-check, the gate every Postfix configuration passes before it goes live,
refuses what would stop Postfix or kill a daemon at its first connection: a misspelt parameter,
a bad value of a known one (message_size_limit = lots, which `postfix check` and `postconf`
accept), and a bad value in one service's master.cf override. It works on a copy of the live
configuration in a temporary directory (lab hosts only: it writes to /tmp), and passes the
copy unchanged.
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("lab_only")

CHECK = "/usr/local/sbin/mailfort-postfix-check"


@pytest.fixture
def copy(host):
    """A copy of /etc/postfix that a test may break; removed afterwards."""
    directory = host.check_output("mktemp -d /tmp/mailfort-check.XXXXXX")
    host.check_output(f"cp -a /etc/postfix/. {directory}/")
    yield directory
    host.run(f"rm -rf {directory}")


def test_the_live_configuration_passes(host, copy):
    result = host.run(f"{CHECK} {copy}")
    assert result.rc == 0, result.stderr


@pytest.mark.parametrize("change, expected", [
    ("postconf -c {dir} smtpd_tls_securty_level=encrypt", "unused parameter: smtpd_tls_securty_level=encrypt"),
    # Postfix 3.7 and 3.10 word these differently; each names the parameter and its value.
    ("postconf -c {dir} message_size_limit=lots", "message_size_limit = lots"),
    ("postconf -c {dir} smtpd_timeout=soon", "smtpd of the smtp service refuses the configuration"),
    ("postconf -c {dir} -P submission/inet/smtpd_client_connection_count_limit=many",
     "smtpd of the submission service refuses the configuration"),
], ids=["misspelt parameter", "bad number", "bad time", "bad value in one service's override"])
def test_a_configuration_postfix_would_choke_on_is_refused(host, copy, change, expected):
    host.check_output(change.format(dir=copy))
    result = host.run(f"{CHECK} {copy}")
    assert result.rc != 0, f"accepted: {change}"
    assert expected in result.stderr, result.stderr
    assert "fatal:" in result.stderr or "warn" in result.stderr, f"no reason given: {result.stderr}"

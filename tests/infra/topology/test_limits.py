# SPDX-License-Identifier: MIT
"""Per-client limits (Postfix anvil): an untrusted client is capped, a trusted one is not.

The roaming client opens one connection more than the per-client connection
count limit allows and keeps them all open: the extra one must be turned away
with 421 "too many connections". The trusted client, exempt through
mailfort_trusted_networks, gets every connection it asks for.
"""
from __future__ import annotations

import pytest
from lab_hosts import SUBMISSION_PORTS


def _limit(postconf, parameter: str) -> int:
    limit = int(postconf(parameter))
    if limit == 0:
        pytest.skip(f"{parameter} is 0 (no limit)")
    return limit


@pytest.fixture(scope="module")
def connection_limit(postconf):
    return _limit(postconf, "smtpd_client_connection_count_limit")


def test_untrusted_client_is_capped_at_the_connection_limit(roaming, address_of, connection_limit):
    greetings = roaming.probe("hold", address_of(4), port=25, count=connection_limit + 1)
    codes = [code for code, _ in greetings]
    print(f"\n{roaming.name}: {connection_limit + 1} simultaneous connections on 25 -> {codes}")
    assert codes[:connection_limit] == [220] * connection_limit, greetings
    assert codes[-1] == 421 and "too many connections" in greetings[-1][1].lower(), greetings[-1]


def test_trusted_client_is_exempt(trusted, address_of, connection_limit):
    greetings = trusted.probe("hold", address_of(4), port=25, count=connection_limit + 2)
    assert [code for code, _ in greetings] == [220] * (connection_limit + 2), greetings


@pytest.fixture(scope="module")
def auth_rate_limit(postconf):
    return _limit(postconf, "smtpd_client_auth_rate_limit")


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_untrusted_client_is_capped_at_the_auth_rate_limit(port, roaming, trusted, person, address_of,
                                                           auth_rate_limit):
    """smtpd_client_auth_rate_limit counts AUTH commands per client and service per minute, right
    passwords too: the roaming client's AUTH after the limit is turned away with 450 4.7.1. (Wrong
    passwords do not get there: Dovecot delays each failure and fail2ban bans after a few.) The
    trusted client, exempt, is not capped at the same moment.

    anvil counts in windows of anvil_rate_time_unit that start at a client's first AUTH, so a burst
    of limit + 1 can straddle the end of a window opened by an earlier test and never be capped (CI
    saw 21 logins in 3 s all accepted). A burst of 2 x limit + 1, far shorter than a window, has
    more than the limit in one window wherever the boundary falls."""
    count = 2 * auth_rate_limit + 1
    replies = roaming.probe("auth-burst", address_of(4), port=port, user=person["name"],
                            password=person["password"], count=count)
    print(f"\n{roaming.name}: up to {count} AUTH sessions on {port} -> {[code for code, _ in replies]}")
    # Earlier tests of this minute may have used part of the allowance: the cap may come sooner,
    # but it must come, as 450 "too many AUTH commands", and only after successful logins.
    assert len(replies) <= count and all(code == 235 for code, _ in replies[:-1]), replies
    code, text = replies[-1]
    assert code == 450 and "4.7.1 Error: too many AUTH commands" in text, replies[-1]
    exempt = trusted.probe("auth-burst", address_of(4), port=port, user=person["name"],
                           password=person["password"], count=count)
    assert [code for code, _ in exempt] == [235] * count, exempt

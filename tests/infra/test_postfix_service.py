# SPDX-License-Identifier: MIT
"""Postfix is installed, running, and answers on port 25 from outside the host."""
from __future__ import annotations

import smtplib

from lab_hosts import is_loopback_network


def test_postfix_is_running_and_enabled(host):
    assert host.package("postfix").is_installed
    assert host.service("postfix").is_enabled
    # The unit layout differs between releases (postfix@-.service on Debian 12,
    # postfix.service on 13); `postfix status` asks the master process itself.
    assert host.run("postfix status").rc == 0


def test_port_25_listens_on_all_addresses(host):
    assert host.socket("tcp://0.0.0.0:25").is_listening


def test_mynetworks_is_loopback_only(postconf):
    networks = postconf("mynetworks").replace(",", " ").split()
    assert networks, "mynetworks is empty"
    outside = [n for n in networks if not is_loopback_network(n)]
    assert outside == [], f"mynetworks trusts non-loopback networks: {outside}"


def test_configuration_passes_postfix_check(host):
    result = host.run("postfix check && postconf -n >/dev/null")
    assert result.rc == 0, result.stderr
    assert "warning" not in result.stderr, result.stderr


def test_smtp_answers_from_the_controller(probe_address, postconf):
    with smtplib.SMTP(probe_address, 25, timeout=20) as smtp:
        code, banner = smtp.ehlo("probe.example.com")
        assert code == 250
        assert banner.decode().splitlines()[0] == postconf("myhostname")
        code, msg = smtp.docmd("VRFY", "root")
        assert (code, b"VRFY command is disabled" in msg) == (502, True), (code, msg)

# SPDX-License-Identifier: MIT
"""Per-port access lists, proven from other hosts over IPv4 and IPv6.

The trusted client may authenticate and send on 587 and 465. The outsider is
kept off both ports twice over: the firewall drops its packets (no reply at
all), and Postfix itself refuses it at connect, before AUTH, with a stable
reason - checked by letting the outsider through the firewall for a moment.
Port 25 stays open to everyone (an MX), and so does the management port.
"""
from __future__ import annotations

import pytest
from lab_hosts import SUBMISSION_PORTS

FAMILIES = [4, 6]


@pytest.mark.parametrize("family", FAMILIES, ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_trusted_client_authenticates_and_sends(trusted, person, address_of, port, family):
    result = trusted.probe("auth", address_of(family), port=port, user=person["name"], password=person["password"],
                           sender=person["senders"][0] if person.get("senders") else person["name"],
                           recipient="someone@example.net")
    assert "error" not in result, f"{trusted.name} -> {port}/IPv{family}: no session ({result})"
    assert result["local"] == trusted.addresses[family], "the probe did not leave from the trusted client's address"
    assert result["auth"][0] == 235, f"AUTH on {port}/IPv{family}: {result['auth']}"
    assert result["rcpt"][0] == 250 and result["data"][0] == 250, f"send on {port}/IPv{family}: {result}"


@pytest.fixture(scope="module")
def outsider_greetings(outsider, address_of):
    """The outsider dials 587 and 465 over IPv4 and IPv6 all at once: a drop is a
    wait for the connect timeout, so the four waits overlap instead of adding up."""
    addresses = {family: address_of(family) for family in FAMILIES}
    results = outsider.probe("greet-all", ",".join(addresses.values()),
                             ports=",".join(map(str, SUBMISSION_PORTS)), timeout=4)
    return {(result["address"], result["port"]): result for result in results}


@pytest.mark.parametrize("family", FAMILIES, ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_outsider_gets_no_answer_from_the_firewall(outsider, outsider_greetings, host_vars, address_of, port, family):
    if not host_vars.get("firewall_enabled", True):
        pytest.skip("the inventory switches the firewall off (firewall_enabled: false)")
    result = outsider_greetings[(address_of(family), port)]
    # A connect timeout, not a silent server after the connection was accepted.
    assert result.get("error") == "connect-timeout", (
        f"{outsider.name} -> {port}/IPv{family}: expected the firewall to drop the connection silently, got {result}")


@pytest.mark.parametrize("family", FAMILIES, ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_outsider_is_refused_by_postfix_before_auth(outsider, address_of, firewall_exception, port, family):
    with firewall_exception(outsider.addresses[family], family):
        result = outsider.probe("greet", address_of(family), port=port)
    assert "error" not in result, f"{outsider.name} -> {port}/IPv{family}: no greeting at all ({result})"
    assert result["local"] == outsider.addresses[family]
    assert result["code"] == 554, f"{port}/IPv{family}: greeting {result} (expected 554 at connect, before AUTH)"
    assert f"Client host rejected: Port {port} is not open to this network" in result["text"], result


@pytest.mark.parametrize("family", FAMILIES, ids=["ipv4", "ipv6"])
def test_port_25_is_open_to_everyone(outsider, address_of, family):
    result = outsider.probe("greet", address_of(family), port=25)
    assert result.get("code") == 220, f"{outsider.name} -> 25/IPv{family}: {result}"


@pytest.fixture
def listeners(host, lab_only):
    """Throwaway TCP listeners on the mail server: the management port (22) and an unlisted one (2525)."""
    started = []
    for port in (22, 2525):
        if host.socket(f"tcp://0.0.0.0:{port}").is_listening:
            continue
        unit = f"mailfort-test-listener-{port}"
        host.check_output(
            f"systemd-run --unit={unit} python3 -c \"import socket,time; s=socket.create_server(('::', {port}), "
            f"family=socket.AF_INET6, dualstack_ipv6=True); [s.accept() for _ in iter(int, 1)]\"")
        started.append(unit)
    for _ in range(50):
        if all(host.socket(f"tcp://0.0.0.0:{p}").is_listening for p in (22, 2525)):
            break
        __import__("time").sleep(0.1)
    yield
    for unit in started:
        host.run(f"systemctl stop {unit}")


@pytest.mark.parametrize("family", FAMILIES, ids=["ipv4", "ipv6"])
def test_management_port_stays_reachable_and_other_ports_do_not(outsider, host_vars, address_of, listeners, family):
    """SSH (22) answers the outsider; an unlisted port with a listener behind it does not."""
    if not host_vars.get("firewall_enabled", True):
        pytest.skip("the inventory switches the firewall off (firewall_enabled: false)")
    address = address_of(family)
    script = ("import socket,sys\n"
              "for port in (22, 2525):\n"
              "    try:\n"
              f"        socket.create_connection(({address!r}, port), timeout=3).close(); print(port, 'open')\n"
              "    except OSError as err:\n"
              "        print(port, type(err).__name__)\n")
    out = outsider.host.check_output(f"python3 -c {__import__('shlex').quote(script)}")
    seen = dict(line.split(" ", 1) for line in out.splitlines())
    assert seen["22"] == "open", (
        f"management port 22 over IPv{family}: {seen['22']} (the firewall would lock the operator out)")
    assert seen["2525"] in ("TimeoutError", "timeout"), (
        f"unlisted port 2525 over IPv{family}: {seen['2525']} (policy drop expected)")

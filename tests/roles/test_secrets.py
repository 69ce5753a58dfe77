# SPDX-License-Identifier: MIT
"""No secret reaches the output when the input is wrong, and wrong input on one
host stops the run for every host.

Each role is given one invalid option while the inventory carries canary
secrets everywhere a secret can be (account passwords, the smarthost
password, the TSIG key). The real playbook (playbooks/site.yml) must refuse
the input, naming the option, and the canaries must appear nowhere in what it
prints - including the argument spec Ansible prints with a failed check.

The run is limited to the input checks (--tags with no role's tag; the
checks are tagged always) and to check mode, against the controller itself
as a stand-in mail host: nothing is changed even if a check were missing.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CANARIES = {
    "account password": "CANARY-acct-Zebra-91xq",
    "second account password": "CANARY-svc-Okapi-27fd",
    "smarthost password": "CANARY-relay-Lynx-55kp",
    "TSIG secret": "Q0FOQVJZLXRzaWctc2VjcmV0LWtleS0xMjM0NTY=",
}

# role -> (one invalid option, the name the refusal must carry)
INVALID = {
    "tls": ({"tls_source": "self-made"}, "tls_source"),
    "postfix": ({"postfix_inet_protocols": "ipv5"}, "postfix_inet_protocols"),
    "rspamd": ({"rspamd_milter_port": "many"}, "rspamd_milter_port"),
    "opendkim": ({"opendkim_canonicalization": "loose"}, "opendkim_canonicalization"),
    "dovecot": ({"dovecot_password_scheme": "MD5"}, "dovecot_password_scheme"),
    "firewall": ({"firewall_input_policy": "reject"}, "firewall_input_policy"),
    "fail2ban": ({"fail2ban_maxretry": "lots"}, "fail2ban_maxretry"),
    "dns_records": ({"dns_records_nsupdate_key_algorithm": "hmac-md4"}, "dns_records_nsupdate_key_algorithm"),
}


def _host_vars():
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "postfix_hostname": "mx.example.com",
        "tls_source": "lab_ca",
        "mailfort_domains": ["example.com"],
        "mailfort_accounts": [
            {"name": "alice@example.com", "password": CANARIES["account password"], "senders": ["alice@example.com"]},
            {"name": "app@example.com", "kind": "application", "mailbox": False,
             "password": CANARIES["second account password"], "senders": ["noreply@example.com"]},
        ],
        "mailfort_client_access": {"submission": "any", "submissions": "any"},
        "mailfort_postmaster": "alice@example.com",
        "postfix_relayhost": "[smtp.example.net]:587",
        "postfix_relayhost_credentials": {"username": "relay", "password": CANARIES["smarthost password"]},
        "dns_records_nsupdate_server": "192.0.2.53",
        "dns_records_nsupdate_key_name": "update-key",
        "dns_records_nsupdate_key_secret": CANARIES["TSIG secret"],
    }


def _run(tmp_path, invalid, good_hosts=0):
    inventory = tmp_path / "inventory.json"
    hosts = {"canary-host": {**_host_vars(), **invalid}}
    hosts.update({f"good-host-{n}": _host_vars() for n in range(good_hosts)})
    inventory.write_text(json.dumps({"all": {"children": {"mailservers": {"hosts": hosts}}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCALHOST_WARNING="false")
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "--check", "--tags", "mailfort-input-checks-only", "-v",
         str(ROOT / "playbooks" / "site.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("role", sorted(INVALID))
def test_an_invalid_option_prints_no_secret(role, tmp_path):
    invalid, named = INVALID[role]
    rc, output = _run(tmp_path, invalid)
    assert rc != 0, f"{role}: {invalid} was accepted:\n{output[-3000:]}"
    assert named in output, f"{role}: the refusal does not name {named}:\n{output[-3000:]}"
    leaked = [what for what, canary in CANARIES.items() if canary in output]
    assert not leaked, f"{role}: the output of a refused run shows the {', '.join(leaked)}:\n{output[-4000:]}"


def test_the_canary_run_is_valid_without_the_invalid_option(tmp_path):
    """The canary inventory itself passes the input checks, so each refusal above is the invalid option's."""
    rc, output = _run(tmp_path, {})
    assert rc == 0, output[-3000:]
    assert not [what for what, canary in CANARIES.items() if canary in output], output[-4000:]


def test_bad_input_on_one_host_stops_every_host(tmp_path):
    """The input checks are one gate for the whole fleet: no host goes on to the roles."""
    rc, output = _run(tmp_path, INVALID["postfix"][0], good_hosts=1)
    assert rc != 0, output[-3000:]
    assert "PLAY [Mail submission servers]" not in output, (
        f"the good host went on to the roles while another host's input was bad:\n{output[-3000:]}")
    assert not [what for what, canary in CANARIES.items() if canary in output], output[-4000:]

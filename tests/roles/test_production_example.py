# SPDX-License-Identifier: MIT
"""The production example (inventories/production) passes every role's input checks as an operator
would run it: its own inventory, the Vault variables it names given (here with -e, as
--ask-vault-pass would), and the certificate files it expects. The controller stands in for the
mail host (local connection, check mode, input checks only: nothing is changed).

CI converges a lab host from the same file (inventories/lab-production); this test covers what
the lab replaces: the example's own domains, accounts, access lists and DNS settings.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "production"
EXAMPLE = INVENTORY / "group_vars" / "mailservers.yml"


def _vault_names() -> list[str]:
    return sorted(set(re.findall(r"\bvault_[a-z0-9_]+", EXAMPLE.read_text())))


def _certificate(directory: Path, names: list[str]) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "fullchain.pem", directory / "privkey.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def _run(tmp_path: Path, extra: dict) -> tuple[int, str]:
    hosts = yaml.safe_load((INVENTORY / "hosts.yml").read_text())["all"]["children"]["mailservers"]["hosts"]
    local = tmp_path / "local.json"
    local.write_text(json.dumps({"all": {"children": {"mailservers": {"hosts": {
        name: {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
        for name in hosts}}}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCALHOST_WARNING="false")
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(INVENTORY), "-i", str(local), "--check", "--tags", "mailfort-input-checks-only",
         "-e", json.dumps(extra), str(ROOT / "playbooks" / "site.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def operator_values(tmp_path_factory) -> dict:
    """What an operator supplies beside the inventory: Vault values and the certificate files."""
    directory = tmp_path_factory.mktemp("operator")
    cert_file, key_file = _certificate(directory, ["mx1.example.com"])
    values = {name: f"example-Vault-{index}-7Qw2z9Lp" for index, name in enumerate(_vault_names())}
    values["vault_dns_update_key"] = "ZXhhbXBsZS10c2lnLWtleS1ub3QtYS1zZWNyZXQ="
    return {**values, "tls_cert_file": str(cert_file), "tls_key_file": str(key_file)}


def test_the_example_names_two_domains_people_applications_and_vault_passwords():
    example = yaml.safe_load(EXAMPLE.read_text())
    assert len(example["mailfort_domains"]) >= 2
    kinds = {account.get("kind", "person") for account in example["mailfort_accounts"]}
    assert kinds == {"person", "application"}
    assert all(account["password"].startswith("{{ vault_") for account in example["mailfort_accounts"])


def test_the_example_passes_every_input_check(tmp_path, operator_values):
    rc, output = _run(tmp_path, operator_values)
    assert rc == 0, output[-4000:]
    assert re.search(r"mx1\.example\.com\s*:\s*ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", output), output[-2000:]


def test_a_missing_vault_value_is_refused(tmp_path, operator_values):
    """The check can fail: without the Vault password of one account the input is refused."""
    values = {k: v for k, v in operator_values.items() if k != "vault_shop_password"}
    rc, output = _run(tmp_path, values)
    assert rc != 0
    assert "vault_shop_password" in output, output[-3000:]

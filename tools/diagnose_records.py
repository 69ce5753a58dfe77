# SPDX-License-Identifier: MIT
"""Reading what receivers read: DKIM, DMARC and MTA-STS records, TLSA data, certificate names.

Pure functions (no network) used by diagnose_checks.py; errors are ValueError with the reason.
"""
from __future__ import annotations

import base64
import hashlib
import re


def cert_names(cert) -> list[str]:
    from cryptography import x509

    try:
        return [n.lower() for n in cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        return [a.value.lower() for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]


def name_matches(host: str, names: list[str]) -> bool:
    """RFC 6125: an exact name, or a wildcard standing for exactly the left-most label."""
    host = host.lower().rstrip(".")
    for name in names:
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def tlsa_data(der: bytes, selector: int, matching: int) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    data = der
    if selector == 1:
        data = x509.load_der_x509_certificate(der).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if matching == 1:
        return hashlib.sha256(data).hexdigest()
    if matching == 2:
        return hashlib.sha512(data).hexdigest()
    return data.hex()


def tlsa_matches(record: tuple, der: bytes) -> bool:
    """A usage 1/3 record (end entity) against the presented certificate; 0/2 need the chain: no match here."""
    usage, selector, matching, data = record
    if usage not in (1, 3) or selector not in (0, 1) or matching not in (0, 1, 2):
        return False
    return tlsa_data(der, selector, matching) == data.lower()


def dkim_tags(text: str) -> dict[str, str]:
    tags = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if key.strip():
            if not sep:
                raise ValueError(f"tag {key.strip()!r} has no value")
            tags[key.strip()] = re.sub(r"\s+", "", value)
    if "v" in tags and (tags["v"] != "DKIM1" or next(iter(tags)) != "v"):
        raise ValueError("v= must be DKIM1 and come first")
    return tags


def dkim_public_key(tags: dict):
    """(key type, public key) of a DKIM record's tags; ValueError when unusable."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    kind = tags.get("k", "rsa").lower()
    if "p" not in tags:
        raise ValueError("no p= tag")
    if not tags["p"]:
        raise ValueError("p= is empty: the key is revoked")
    try:
        data = base64.b64decode(tags["p"], validate=True)
    except ValueError as exc:
        raise ValueError("p= is not base64") from exc
    if kind == "ed25519":
        if len(data) != 32:
            raise ValueError("k=ed25519 but p= is not a 32-byte key")
        return kind, ed25519.Ed25519PublicKey.from_public_bytes(data)
    if kind != "rsa":
        raise ValueError(f"unknown key type k={kind}")
    try:
        return kind, serialization.load_der_public_key(data)
    except ValueError:
        pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(data) + b"-----END RSA PUBLIC KEY-----\n"
        try:
            return kind, serialization.load_pem_public_key(pem)
        except ValueError as exc:
            raise ValueError("p= is not an RSA public key") from exc


def load_key(pem: bytes):
    """The public key of a PEM private or public key."""
    from cryptography.hazmat.primitives import serialization

    try:
        if b"PRIVATE KEY" in pem:
            return serialization.load_pem_private_key(pem, password=None).public_key()
        return serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM key ({exc})") from exc


def public_bytes(key) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if isinstance(key, ed25519.Ed25519PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_b64(key) -> str:
    return base64.b64encode(public_bytes(key)).decode()


def dmarc_tags(text: str) -> dict[str, str]:
    tags = {}
    for part in text.split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            tags.setdefault(key.strip().lower(), value.strip())
    return tags


def dmarc_problem(tags: dict) -> str:
    if next(iter(tags), None) != "v" or tags["v"] != "DMARC1":
        return "v=DMARC1 must be the first tag"
    if tags.get("p", "").lower() not in ("none", "quarantine", "reject"):
        return f"p={tags.get('p', '(missing)')} is not none, quarantine or reject"
    for key in ("adkim", "aspf"):
        if tags.get(key, "r").lower() not in ("r", "s"):
            return f"{key}={tags[key]} is not r or s"
    if "sp" in tags and tags["sp"].lower() not in ("none", "quarantine", "reject"):
        return f"sp={tags['sp']} is not none, quarantine or reject"
    if "pct" in tags and not (tags["pct"].isdigit() and 0 <= int(tags["pct"]) <= 100):
        return f"pct={tags['pct']} is not 0 to 100"
    return ""


def same_organization(a: str, b: str) -> bool:
    """The same domain or one under the other (a cheap stand-in for the organizational domain)."""
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def parse_sts_policy(text: str) -> tuple[dict, str]:
    policy: dict = {"mx": []}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "mx":
            policy["mx"].append(value.lower())
        else:
            policy[key] = value
    if policy.get("version") != "STSv1":
        return policy, "version: STSv1 missing"
    if policy.get("mode") not in ("enforce", "testing", "none"):
        return policy, f"mode {policy.get('mode')!r} is not enforce, testing or none"
    if not str(policy.get("max_age", "")).isdigit() or int(policy["max_age"]) > 31557600:
        return policy, f"max_age {policy.get('max_age')!r} is not 0 to 31557600"
    if not policy["mx"] and policy["mode"] != "none":
        return policy, "no mx line"
    return policy, ""


def sts_mx_matches(pattern: str, host: str) -> bool:
    host, pattern = host.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return "." in host and host.split(".", 1)[1] == pattern[2:]
    return pattern == host

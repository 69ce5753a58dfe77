# SPDX-License-Identifier: MIT
"""Facts every mailfort role, filter and test relies on, each written once.

Roles read them through the ``mailfort.mail.mailfort_shared`` filter (role defaults,
templates), filters and tests import this module. Changing a value here changes it
everywhere; nothing else in the repository may spell these values out.
"""
from __future__ import annotations

import os

# SMTP service name (as in master.cf and mailfort_client_access) -> TCP port.
SERVICE_PORTS = {"smtp": 25, "submission": 587, "submissions": 465}

# How a client starts TLS on each service: smtp offers STARTTLS (clients may
# go on without it), submission requires STARTTLS before AUTH or MAIL,
# submissions speaks TLS from the first byte.
SERVICE_TLS = {"smtp": "starttls-optional", "submission": "starttls", "submissions": "implicit"}

# The services a login submits mail on (AUTH offered, after TLS only).
SUBMISSION_SERVICES = ("submission", "submissions")

# Where the tls role writes the host's certificate (leaf, then intermediates)
# and private key; postfix, dovecot and dns_records (TLSA) read them there.
TLS_CERTIFICATE_PATH = "/etc/mailfort/tls/server.crt"
TLS_KEY_PATH = "/etc/mailfort/tls/server.key"

# The ECDSA certificate and key beside those, with tls_acme_key_type both
# (Postfix serves either, by what the client supports).
TLS_ECDSA_CERTIFICATE_PATH = "/etc/mailfort/tls/server-ecdsa.crt"
TLS_ECDSA_KEY_PATH = "/etc/mailfort/tls/server-ecdsa.key"

# The public half of the next key during a key rollover (tls_key_rollover):
# dns_records publishes its TLSA record beside the current key's.
TLS_NEXT_PUBLIC_KEY_PATH = "/etc/mailfort/tls/next-key.pub"

# mailfort_controller_dir's default: this folder beside the ansible.cfg in
# use, or beside the playbook when there is none.
CONTROLLER_DIR_NAME = ".cache"

SHARED = {
    "service_ports": SERVICE_PORTS,
    "service_tls": SERVICE_TLS,
    "submission_services": list(SUBMISSION_SERVICES),
    "tls_certificate_path": TLS_CERTIFICATE_PATH,
    "tls_key_path": TLS_KEY_PATH,
    "tls_next_public_key_path": TLS_NEXT_PUBLIC_KEY_PATH,
    "tls_ecdsa_certificate_path": TLS_ECDSA_CERTIFICATE_PATH,
    "tls_ecdsa_key_path": TLS_ECDSA_KEY_PATH,
}


def default_controller_dir(config_file: str | None, playbook_dir: str) -> str:
    """The controller directory (lab CA, zone fragments, hash cache) when mailfort_controller_dir is unset."""
    base = os.path.dirname(config_file) if config_file else playbook_dir
    return os.path.join(base, CONTROLLER_DIR_NAME)

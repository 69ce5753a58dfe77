#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The collection as a user gets it, against a converged lab (tests/lab-run.sh
# runs it after the idempotence check, on the last distro's lab).
#
# usage: tests/collection-consumer.sh MOLECULE_INVENTORY_DIR [LAB_INVENTORY]
#        (LAB_INVENTORY: the inventories/ directory the lab was converged with,
#        default lab-production)
#
# 1. collections/build.sh (`make collection`) builds the tarball from this repository.
# 2. It is installed into an empty directory with `ansible-galaxy collection
#    install --offline` (from the file; its dependencies, community.crypto and
#    community.general, are already installed with the `ansible` package).
# 3. That directory becomes a user's project: its own ansible.cfg naming no
#    mailfort path (only its own collections/ and connection_plugins/
#    directories), its own inventory (the lab hosts), its own
#    group_vars (a copy of inventories/LAB_INVENTORY/group_vars: the lab's
#    addresses, accounts, TSIG key and certificate file names), and a playbook
#    that calls the roles by FQCN. The controller data the lab already made
#    (the lab CA and its certificate files, this lab's zone fragments) is
#    copied into the project's .cache/, the default mailfort_controller_dir.
#    The lab's transport is copied too (lab/connection_plugins/podman.py into
#    the project's connection_plugins/): containers.podman.podman with
#    pipelining, one exec per task instead of four plus a mount, which keeps
#    this converge as fast as the idempotence run it goes alongside. It is how
#    the lab reaches its containers, not part of what is tested.
# 4. `ansible-doc` finds a filter's and a role's documentation there, the
#    collection's playbook mailfort.mail.site passes a syntax check, and the
#    playbook converges the lab's mail server with changed=0: the collection
#    builds the same server the repository just built.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

molecule_inventory=${1:?usage: $0 MOLECULE_INVENTORY_DIR [LAB_INVENTORY]}
lab_inventory=${2:-lab-production}
hosts_file=$molecule_inventory/ansible_inventory.yml

# Its own output directory: `make ee` builds into .cache/collection at the same time.
built=.cache/collection-consumer
collections/build.sh "$built" >/dev/null
tarballs=("$built"/mailfort-mail-*.tar.gz)
[ ${#tarballs[@]} -eq 1 ] || { echo "want one tarball in $built, found: ${tarballs[*]}"; exit 1; }
tarball=$repo/${tarballs[0]}

project=$(mktemp -d /tmp/mailfort-consumer.XXXXXX)
trap 'rm -rf "$project"' EXIT

# The user's environment: nothing of this repository's ansible settings (the
# lab run exports ANSIBLE_CONFIG and friends).
consumer() {
  (cd "$project" && env -i PATH="$PATH" HOME="$HOME" LANG=C.UTF-8 ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 "$@")
}

cat >"$project/ansible.cfg" <<'EOF'
[defaults]
inventory = inventory.yml
collections_path = collections
connection_plugins = connection_plugins
interpreter_python = auto_silent
host_key_checking = True
EOF
consumer ansible-galaxy collection install --offline -p ./collections "$tarball"

# The hosts and groups of the molecule inventory, with its connection variables.
python3 - "$hosts_file" "$project/inventory.yml" <<'EOF'
import sys
import yaml
with open(sys.argv[1]) as f:
    molecule = yaml.safe_load(f)
groups = {}
for name, group in molecule.items():
    if name == "all" or not (group or {}).get("hosts"):
        continue
    groups[name] = {"hosts": {host: {key: value for key, value in (settings or {}).items()
                                     if key.startswith("ansible_")}
                              for host, settings in group["hosts"].items()}}
with open(sys.argv[2], "w") as f:
    yaml.safe_dump({"all": {"children": groups}}, f)
EOF
cp -RL "inventories/$lab_inventory/group_vars" "$project/group_vars"
mkdir "$project/connection_plugins"
cp lab/connection_plugins/podman.py "$project/connection_plugins/"

mkdir -p "$project/.cache/zones"
cp -a .cache/lab-ca "$project/.cache/lab-ca"
for host in $(python3 -c 'import sys, yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["mailservers"]["hosts"]))' "$hosts_file"); do
  if [ -d ".cache/zones/$host" ]; then cp -a ".cache/zones/$host" "$project/.cache/zones/$host"; fi
done

cat >"$project/mail.yml" <<'EOF'
---
- name: Facts of the nameservers (the records are published to them)
  hosts: nameservers
  gather_facts: true
  tasks: []

- name: Mail servers
  hosts: mailservers
  become: true
  roles:
    - mailfort.mail.tls
    - mailfort.mail.postfix
    - mailfort.mail.rspamd
    - mailfort.mail.opendkim
    - mailfort.mail.dovecot
    - mailfort.mail.firewall
    - mailfort.mail.fail2ban
    - mailfort.mail.dns_records
EOF

failed=0
check() { # check DESCRIPTION COMMAND...: run in the user's project, say what failed
  if ! consumer "${@:2}" >"$project/out.log" 2>&1; then
    tail -30 "$project/out.log"; echo "FAILED: $1"; failed=1; return 1
  fi
}

if [ -n "$(find "$project/collections/ansible_collections/mailfort/mail/roles" -maxdepth 1 -name 'lab_*')" ]; then
  echo "FAILED: the collection carries lab roles"; failed=1
fi
check "ansible-doc -t filter mailfort.mail.spf_record" ansible-doc -t filter mailfort.mail.spf_record \
  && { grep -q 'FILTER mailfort.mail.spf_record' "$project/out.log" || { echo "FAILED: no filter doc"; failed=1; }; }
check "ansible-doc -t role mailfort.mail.postfix" ansible-doc -t role mailfort.mail.postfix \
  && { grep -qE 'ENTRY POINT: \*?main\*? - Postfix' "$project/out.log" || { echo "FAILED: no role doc"; failed=1; }; }
check "syntax check of the playbook mailfort.mail.site" ansible-playbook --syntax-check mailfort.mail.site || true

log=.cache/logs/collection-consumer.log
mkdir -p .cache/logs
if ! consumer ansible-playbook mail.yml >"$log" 2>&1; then
  tail -60 "$log"; echo "FAILED: the user's playbook failed (log: $log)"; exit 1
fi
recap=$(sed -n '/PLAY RECAP/,$p' "$log")
echo "$recap"
mailservers=$(python3 -c 'import sys, yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["mailservers"]["hosts"]))' "$hosts_file")
for host in $mailservers; do
  if ! grep -qE "^$host\s+: ok=[1-9][0-9]*\s+changed=0\s+unreachable=0\s+failed=0" <<<"$recap"; then
    grep -E '^(changed|TASK)' "$log" | grep -B1 '^changed' || true
    echo "FAILED: the collection did not converge $host to the same state as the repository (changed tasks above; log: $log)"
    failed=1
  fi
done
[ $failed -eq 0 ] && echo "the installed collection converged the lab with changed=0; ansible-doc and mailfort.mail.site work"
exit $failed

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the mailfort.mail collection tarball (`make collection`).
#
# usage: collections/build.sh [OUTPUT_DIR]     (default .cache/collection)
#
# collections/ansible_collections/mailfort/mail is the collection's source:
# galaxy.yml, meta/runtime.yml, README.md, and symlinks to the repository's
# roles/, playbooks/, filter_plugins/ (as plugins/filter/), module_utils/ (as
# plugins/module_utils/), modules/ (as plugins/modules/), CHANGELOG.md and LICENSE. The build copies
# that tree with the links resolved, leaves the lab-only roles and playbooks
# out, and runs ansible-galaxy on the copy. No file is rewritten: the roles
# already call their filters and each other by FQCN.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-.cache/collection}
source=collections/ansible_collections/mailfort/mail
stage=$out/stage/mailfort/mail

rm -rf "$out/stage"
mkdir -p "$stage"
cp -RL "$source/." "$stage/"
# LAB ONLY content stays in the repository: the lab's roles (sink, nameserver,
# resolver) and the playbooks that converge the lab or make its CA.
rm -rf "$stage"/roles/lab_* "$stage"/playbooks/lab.yml "$stage"/playbooks/lab-*.yml
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
# A collection's playbook names are identifiers: playbooks/dns-records.yml is
# mailfort.mail.dns_records.
for playbook in "$stage"/playbooks/*-*.yml; do
  name=$(basename "$playbook")
  mv "$playbook" "$stage/playbooks/${name//-/_}"
done

ansible-galaxy collection build --force --output-path "$out" "$stage"
rm -rf "$out/stage"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One molecule scenario on one distribution, step by step, each step timed.
#
# usage: tests/lab-run.sh DISTRO        (SCENARIO=topology|default, MAILFORT_MUTATIONS=0|1,
#                                        MAILFORT_CHECK_NEW=0|1, MAILFORT_COLLECTION=0|1,
#                                        MAILFORT_ROLLING=0|1, MAILFORT_AUDIT_CREDENTIALED=0|1)
#
# Steps: create (stale lab removed, syntax, create, prepare), check mode on the
# new hosts (MAILFORT_CHECK_NEW=1), converge, then
# idempotence and check side by side (with MAILFORT_COLLECTION=1 the collection
# tarball, installed into a user's project, converges the mail server again
# instead, with changed=0: tests/collection-consumer.sh, the idempotence proof
# of that lab), verify (with MAILFORT_ROLLING=1 side by side with the rolling
# deploy on a fleet of three mail servers of its own: tests/rolling_deploy.py),
# audit (the external tier from an audit inventory, with
# MAILFORT_AUDIT_CREDENTIALED=1 also the credentialed one), mutations
# (MAILFORT_MUTATIONS=1), destroy. A failed step skips the rest but never the
# destroy. Each step's wall time goes to .cache/timings/SCENARIO-DISTRO.tsv (tests/summary.py prints the
# table). The base image is built first if its recipe changed (`make images`
# builds and times it).
# Several distributions can run at once: each gets its own molecule state
# directory, container names and subnet (molecule/topology/molecule.yml).
set -uo pipefail
cd "$(dirname "$0")/.." || exit

distro=${1:?usage: $0 debian12|debian13}
scenario=${SCENARIO:-topology}
case "$distro" in
  debian12) net=60 ;;
  debian13) net=61 ;;
  *) echo "unknown distro '$distro' (want debian12 or debian13)" >&2; exit 2 ;;
esac
export MOLECULE_DISTRO=$distro
export MAILFORT_TOPO_NET=${MAILFORT_TOPO_NET:-$net}
export MOLECULE_EPHEMERAL_DIRECTORY=$PWD/.cache/molecule/$scenario-$distro
# Only this scenario: molecule would otherwise load every scenario into that directory.
export MOLECULE_GLOB=molecule/$scenario/molecule.yml
# Per-task times in every playbook run, and the slowest tasks at its end.
export ANSIBLE_CALLBACKS_ENABLED=${ANSIBLE_CALLBACKS_ENABLED:-ansible.posix.profile_tasks}
export ANSIBLE_CONFIG=$PWD/ansible.cfg
inventory=$MOLECULE_EPHEMERAL_DIRECTORY/inventory
logs=.cache/logs
mkdir -p "$logs"
timings=.cache/timings/$scenario-$distro.tsv
mkdir -p .cache/timings .cache/junit "$MOLECULE_EPHEMERAL_DIRECTORY"
: >"$timings"

failed=""
# step NAME COMMAND...: run and time one step (tests/timed.sh), unless an earlier one failed.
step() {
  if [ -n "$failed" ]; then
    printf '%s\t%s\t\tskipped\n' "$scenario-$distro" "$1" >>"$timings"
    return 0
  fi
  echo "=== $scenario/$distro: $1 ==="
  TIMING_GROUP="$scenario-$distro" tests/timed.sh "$@" || { failed=$1; return 1; }
}

molecule_() { molecule "$1" --scenario-name "$scenario"; }

create() {
  molecule_ destroy && molecule_ syntax && molecule_ create
}

# The lab's network goes with its hosts: a network left behind holds its
# subnets and blocks the next lab that wants them.
destroy() {
  molecule_ destroy || return $?
  podman rmi --force --ignore "$(rolling_image mx)" "$(rolling_image sink)" >/dev/null 2>&1 || true
  if podman network exists "mailfort-$scenario-$distro"; then
    podman network rm "mailfort-$scenario-$distro" >/dev/null
  fi
}

# The second converge of the product must change nothing (molecule's idempotence
# check, run here as a plain ansible-playbook so that the check-mode run can go
# alongside): playbooks/lab-site.yml, site.yml after every lab host's facts,
# without the lab's own plays, which are not the product and took half of this
# run (about 70 s of 145 on Debian 12). That a re-run of `make lab`, lab plays
# included, changes nothing is what the converge bench's smoke checks (rolling).
idempotence() {
  local log=$logs/$scenario-$distro-idempotence.log rc
  ansible-playbook -i "$inventory" playbooks/lab-site.yml >"$log" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then echo "the second converge failed (rc $rc)"; return $rc; fi
  if grep -E '^\S+\s+: ok=[0-9]+\s+changed=[1-9]' "$log"; then
    echo "not idempotent: the second converge changed something (above; tasks: grep changed: $log)"
    return 1
  fi
  echo "idempotent: the second converge changed nothing"
}

# Check mode (with --diff) of the real playbook on the converged lab must run to
# the end (the lab's own plays, lab.yml's, are left out: they are not the product,
# and CI's CPU is better spent elsewhere).
check_mode() {
  ansible-playbook -i "$inventory" --check --diff playbooks/site.yml >"$logs/$scenario-$distro-check.log" 2>&1
}

# Check mode (with --diff) on a brand-new host, before the first converge, must
# run to the end, report what it would change, and change nothing.
check_new() {
  local log=$logs/$scenario-$distro-check-new.log
  ansible-playbook -i "$inventory" --check --diff playbooks/site.yml >"$log" 2>&1 \
    || { tail -60 "$log"; echo "check mode on the new host failed (log: $log)"; return 1; }
  grep -E '^\S+\s+: ok=[0-9]+\s+changed=[1-9]' "$log" \
    || { echo "check mode on a new host reported no change: it is not telling what a converge would do"; return 1; }
  ansible -i "$inventory" mailservers -m ansible.builtin.command -a 'test ! -e /etc/postfix/main.cf' >>"$log" 2>&1 \
    || { echo "check mode changed the new host: /etc/postfix/main.cf exists"; return 1; }
  echo "check mode on the new host ran to the end, reported changes and changed nothing"
}

# None of these runs changes anything on a converged lab (that is what each of
# idempotence and collection proves), so they run at the same time; their logs
# are printed one after the other. The collection's converge of the mail server
# (changed=0) is that lab's second converge: a third run would prove nothing more.
idempotence_and_check() {
  local parts="check" pids="" pid rc=0
  (step check check_mode) &
  pids="$pids $!"
  if [ "${MAILFORT_ROLLING:-0}" = 1 ]; then
    (step rolling-images rolling_images >"$logs/$scenario-$distro-rolling-images.log" 2>&1) &
    pids="$pids $!"
    parts="$parts rolling-images"
  fi
  if [ "${MAILFORT_COLLECTION:-0}" = 1 ]; then
    (step collection collection >"$logs/$scenario-$distro-collection.log" 2>&1) &
    pids="$pids $!"
    parts="$parts collection"
  else
    (step idempotence idempotence) &
    pids="$pids $!"
    parts="$parts idempotence"
  fi
  for pid in $pids; do
    wait "$pid" || rc=1
  done
  for part in $parts; do
    echo "--- $scenario/$distro $part log ---"
    cat "$logs/$scenario-$distro-$part.log"
  done
  return $rc
}

# The rolling deploy (tests/rolling_deploy.py) brings up three mail servers and
# a sink of its own (lab/lab.sh: containers mailfort-lab*, another network) and
# removes them at the end; it runs while verify waits on its mail. Its hosts
# start from images of this lab's mail server and sink, taken right after the
# converge (rolling_images): a rollout then runs against servers that already
# run mailfort, as rollouts do, and CI spares three fresh package installs
# (fresh hosts are what this lab's converge proves).
rolling_image() { echo "localhost/mailfort-rolling-$1:$distro"; }
rolling_images() {
  local role
  for role in mx sink; do
    podman commit --quiet "mailfort-$distro-$role" "$(rolling_image "$role")" >/dev/null || return 1
  done
  echo "images of the converged mail server and sink: $(rolling_image mx) $(rolling_image sink)"
}
# Then the benchmarks' smoke run (bench/run.py --smoke --lab-up: throughput,
# the untrusted client's limits, faults under load, tiny counts) on the first
# of those servers, so the bench code stays alive; then the servers go, and the
# converge and fleet benches' smoke run brings up new ones from the same images
# (one server converged twice, also the fleet of 1, then a fleet of 2; the playbook's tasks
# tagged always only: facts, the lab's plays, every role's input checks).
rolling() {
  local rc=0
  # Below verify's priority (and the other lab's): it is not on the run's critical path.
  MAILFORT_DISTRO=$distro MAILFORT_LAB_IMAGE=$(rolling_image mx) MAILFORT_LAB_SINK_IMAGE=$(rolling_image sink) \
    nice -n 10 tests/rolling_deploy.py --no-restore --junit ".cache/junit/rolling-$distro.xml" \
    >"$logs/$scenario-$distro-rolling.log" 2>&1 || rc=1
  echo "--- bench smoke ---" >>"$logs/$scenario-$distro-rolling.log"
  MAILFORT_DISTRO=$distro nice -n 10 bench/run.py --smoke --lab-up --only throughput,faults,suite \
    --junit ".cache/junit/bench-smoke-$distro.xml" >>"$logs/$scenario-$distro-rolling.log" 2>&1 || rc=1
  MAILFORT_DISTRO=$distro MAILFORT_LAB_IMAGE=$(rolling_image mx) MAILFORT_LAB_SINK_IMAGE=$(rolling_image sink) \
    nice -n 10 bench/run.py --smoke --only converge,fleet --junit ".cache/junit/bench-smoke-converge-$distro.xml" \
    >>"$logs/$scenario-$distro-rolling.log" 2>&1 || rc=1
  MAILFORT_LAB_MAIL_HOSTS=3 lab/lab.sh down >>"$logs/$scenario-$distro-rolling.log" 2>&1 || true
  return $rc
}

verify_and_rolling() {
  local pid
  if [ "${MAILFORT_ROLLING:-0}" != 1 ]; then
    step verify molecule_ verify
    return 0
  fi
  (step rolling rolling) &
  pid=$!
  step verify molecule_ verify
  wait "$pid" || failed=${failed:-rolling}
  if [ -e "$logs/$scenario-$distro-rolling.log" ]; then
    echo "--- $scenario/$distro rolling deploy ---"
    cat "$logs/$scenario-$distro-rolling.log"
  fi
}

# The external (and credentialed) audit tiers, as an operator runs them (`make
# audit`): from an audit inventory written from the lab's
# (playbooks/audit-inventory.yml), which holds addresses, allow-lists, the
# computed DNS records and the name of one account (the lab's first person
# account), but no way into the host and no password: the password is given in
# MAILFORT_AUDIT_PASSWORD, as an operator may instead of a vault. DNS is asked of
# the lab's BIND (its address as podman reports it). Verify leaves these tests
# out (molecule.yml: m); the mutation proofs audit a misconfigured host from
# the same inventory with the connection variables.
audit_inventory=$MOLECULE_EPHEMERAL_DIRECTORY/audit-inventory.yml
audit_access_inventory=$MOLECULE_EPHEMERAL_DIRECTORY/audit-inventory-access.yml
audit() {
  local nameserver account name password tiers=external
  # The credentialed tier on one lab (MAILFORT_AUDIT_CREDENTIALED=1): its tests run in every
  # lab's verify step with the lab's accounts; here it proves the audit account's way in.
  if [ "${MAILFORT_AUDIT_CREDENTIALED:-0}" = 1 ]; then tiers="external or credentialed"; fi
  nameserver=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "mailfort-$distro-ns" \
               2>/dev/null || true)
  # LAB ONLY: the lab inventory's literal test password, kept out of every output.
  account=$(ansible-inventory -i "$inventory" --host "mailfort-$distro-mx" 2>/dev/null | python3 -c '
import json, sys
accounts = json.load(sys.stdin).get("mailfort_accounts") or []
person = next(a for a in accounts if a.get("kind", "person") == "person")
print(person["name"]); print(person["password"])') || { echo "no person account in the lab inventory"; return 1; }
  name=$(sed -n 1p <<<"$account")
  password=$(sed -n 2p <<<"$account")
  ansible-playbook -i "$inventory" playbooks/audit-inventory.yml -e audit_inventory_file="$audit_inventory" \
    -e audit_inventory_access_file="$audit_access_inventory" -e audit_inventory_account="$name" \
    ${nameserver:+-e "{\"dns_records_spf_resolver\": [\"$nameserver\"]}"} \
    >"$logs/$scenario-$distro-audit-inventory.log" 2>&1 \
    || { tail -40 "$logs/$scenario-$distro-audit-inventory.log"; return 1; }
  MAILFORT_AUDIT_PASSWORD=$password pytest tests/infra -m "$tiers" -p no:cacheprovider \
    -W ignore::DeprecationWarning --hosts=ansible://mailservers --ansible-inventory="$audit_inventory" \
    --junitxml=".cache/junit/audit-$distro.xml"
}

# The mutation proofs break this lab's server on purpose, one fault at a time.
mutations() {
  MAILFORT_AUDIT_ACCESS_INVENTORY=$audit_access_inventory pytest tests/infra/mutation_proofs.py -v -s -p no:cacheprovider \
    --hosts=ansible://mailservers --ansible-inventory="$MOLECULE_EPHEMERAL_DIRECTORY/inventory" \
    --junitxml=".cache/junit/mutations-$distro.xml"
}

# The lab image lets systemd give up on a stopping unit after a few seconds
# (lab/build-image.sh); say so whenever that fired, per host.
stop_timeouts() {
  local container lines line
  for container in $(podman ps --format '{{.Names}}' --filter "name=^mailfort-$distro-"); do
    lines=$(podman exec "$container" journalctl --no-pager -o short-monotonic 2>/dev/null \
            | grep -E "State '(stop-sigterm|final-sigterm)' timed out" || true)
    if [ -n "$lines" ]; then
      echo "lab stop timeout fired on $container ($(wc -l <<<"$lines") times):"
      while IFS= read -r line; do printf '  %s\n' "$line"; done <<<"$lines"
    fi
  done
  return 0
}

# The collection, installed as a user installs it, builds the same server
# (changed=0 on the converged mail server).
collection() {
  tests/collection-consumer.sh "$inventory" "${MAILFORT_LAB_INVENTORY:-lab}"
}

# timed.sh runs each step in a new shell: it needs these.
export -f molecule_ create destroy audit mutations idempotence check_mode check_new collection rolling rolling_image \
  rolling_images
export scenario distro inventory logs audit_inventory audit_access_inventory

lab/build-image.sh "$distro" || failed=image
step create create
if [ "${MAILFORT_CHECK_NEW:-0}" = 1 ]; then
  step check-new check_new
fi
step converge molecule_ converge
if [ -z "$failed" ]; then
  idempotence_and_check || failed=${failed:-"idempotence, check or collection"}
fi
verify_and_rolling
step audit audit
if [ "${MAILFORT_MUTATIONS:-0}" = 1 ]; then
  step mutations mutations
fi
stop_timeouts
failed_before_destroy=$failed
failed=""
step destroy destroy
if [ -n "$failed_before_destroy" ] || [ -n "$failed" ]; then
  echo "=== $scenario/$distro FAILED at: ${failed_before_destroy:-$failed} ===" >&2
  exit 1
fi
echo "=== $scenario/$distro passed ==="

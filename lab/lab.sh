#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The local lab: a mail server and a sink/DNS host, podman containers running
# systemd, converged by playbooks/lab.yml (the lab around playbooks/site.yml).
#
# usage: lab/lab.sh up|down|info
#   MAILFORT_DISTRO=debian12|debian13 (default debian12) picks the base image.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lab/podman.env
. lab/podman.env

name=mailfort-lab
sink=mailfort-lab-sink
network=mailfort-lab
distro=${MAILFORT_DISTRO:-debian12}
image=localhost/mailfort-base:$distro
hostname=mx.lab.test

container_state() { podman container inspect --format '{{.State.Status}}' "$1" 2>/dev/null || true; }
container_image() { podman container inspect --format '{{.ImageName}}' "$1" 2>/dev/null || true; }
address() { podman container inspect --format "{{ (index .NetworkSettings.Networks \"$network\").IPAddress }}" "$1"; }
remove() { podman rm --force --ignore "$1" >/dev/null 2>&1 || podman rm --force "$1" >/dev/null 2>&1 || true; }

wait_for_systemd() {
  local state=""
  for _ in $(seq 1 60); do
    state=$(podman exec "$1" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) return 0 ;; esac
    sleep 1
  done
  echo "lab host $1 did not finish booting (systemd state: ${state:-unknown})" >&2
  podman exec "$1" systemctl --failed --no-pager >&2 || true
  return 1
}

container_caps() { podman container inspect --format '{{.EffectiveCaps}}' "$1" 2>/dev/null || true; }

# start CONTAINER HOSTNAME [podman options]: reuse a running container of the
# right image and capabilities, else (re)create it.
start() {
  local container=$1 host=$2
  shift 2
  if [ "$(container_state "$container")" = running ] && [ "$(container_image "$container")" = "$image" ] \
     && { [[ " $* " != *" --cap-add=NET_ADMIN "* ]] || [[ "$(container_caps "$container")" == *CAP_NET_ADMIN* ]]; }; then
    echo "lab host $container is already running"
  else
    # A stale container of the same name (stopped, half-removed, other distro) goes first.
    remove "$container"
    podman run --detach --name "$container" --hostname "$host" --network "$network" \
      "${MAILFORT_PODMAN_RUN_OPTS[@]}" "$@" "$image" >/dev/null
  fi
}

up() {
  lab/build-image.sh "$distro"
  lab/network.sh "$network" 10.89.70.0/24 fd00:6d66:70::/64
  start "$sink" sink.lab.test
  # The mail server runs its own nftables firewall (roles/firewall).
  start "$name" "$hostname" --cap-add=NET_ADMIN
  wait_for_systemd "$sink"
  wait_for_systemd "$name"
  ansible-playbook -i inventories/lab playbooks/lab.yml
  info
}

info() {
  local ip
  ip=$(address "$name")
  # LAB ONLY credentials, from inventories/lab/group_vars/mailservers/accounts.yml.
  local user=alice@lab.test pass=lab-only-Kestrel-7f3k9q ca=.cache/lab-ca/ca.crt
  cat <<INFO

mailfort lab is up.
  mail server : $name ($distro) at $ip, host name $hostname
  ports       : 25 (MX, no AUTH), 587 (submission, STARTTLS required), 465 (submissions, implicit TLS)
  lab account : $user / $pass   (LAB ONLY; sends as $user)
  lab CA      : $ca   (the server's certificate verifies against it)
  sink        : $sink at $(address "$sink"), the lab's DNS; every outbound message lands in /var/mail/sink/new

Try it (swaks verifies nothing by default; --tls-verify --tls-ca-path checks the certificate):
  # Authenticated submission on 587 (STARTTLS), delivered to the sink
  swaks --server $ip --port 587 --tls --tls-verify --tls-ca-path $ca --tls-sni $hostname \\
        --auth PLAIN --auth-user $user --auth-password '$pass' \\
        --from $user --to someone@example.net
  # Authenticated submission on 465 (implicit TLS)
  swaks --server $ip --port 465 --tls-on-connect --tls-verify --tls-ca-path $ca --tls-sni $hostname \\
        --auth PLAIN --auth-user $user --auth-password '$pass' \\
        --from $user --to someone@example.net
  # Relaying is refused (expect: 554 5.7.1 ... Relay access denied)
  swaks --server $ip --port 25 --helo client.example.com \\
        --from someone@example.com --to relaytest@example.invalid --quit-after RCPT
  # What arrived at the sink
  podman exec $sink sh -c 'ls -t /var/mail/sink/new | head'

Remove the lab: make lab-down
INFO
  # The DNS records the lab domains would need (roles/dns_records); this lab has
  # no nameserver, so they are only written to the zone fragments.
  local zone
  for zone in ".cache/zones/$name"/*.zone; do
    [ -e "$zone" ] || continue
    printf '\nDNS records to publish (%s):\n' "$zone"
    grep -v '^;' "$zone"
  done
}

down() {
  remove "$name"
  remove "$sink"
  if podman network exists "$network"; then
    podman network rm --force "$network" >/dev/null || true
  fi
  echo "lab hosts $name and $sink removed"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  info) info ;;
  *) echo "usage: $0 up|down|info" >&2; exit 2 ;;
esac

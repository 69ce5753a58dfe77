#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The local lab: one podman container running systemd, converged by playbooks/site.yml.
#
# usage: lab/lab.sh up|down|info
#   MAILFORT_DISTRO=debian12|debian13 (default debian12) picks the base image.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lab/podman.env
. lab/podman.env

name=mailfort-lab
network=mailfort-lab
distro=${MAILFORT_DISTRO:-debian12}
image=localhost/mailfort-base:$distro
hostname=mx.lab.test

container_state() { podman container inspect --format '{{.State.Status}}' "$name" 2>/dev/null || true; }
container_image() { podman container inspect --format '{{.ImageName}}' "$name" 2>/dev/null || true; }
address() { podman container inspect --format "{{ (index .NetworkSettings.Networks \"$network\").IPAddress }}" "$name"; }

wait_for_systemd() {
  local state=""
  for _ in $(seq 1 60); do
    state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) return 0 ;; esac
    sleep 1
  done
  echo "lab host $name did not finish booting (systemd state: ${state:-unknown})" >&2
  podman exec "$name" systemctl --failed --no-pager >&2 || true
  return 1
}

up() {
  lab/build-image.sh "$distro"
  podman network exists "$network" || podman network create "$network" >/dev/null
  if [ "$(container_state)" = running ] && [ "$(container_image)" = "$image" ]; then
    echo "lab host $name is already running; converging it again"
  else
    # A stale container of the same name (stopped, half-removed, other distro) goes first.
    podman rm --force --ignore "$name" >/dev/null 2>&1 || podman rm --force "$name" >/dev/null 2>&1 || true
    podman run --detach --name "$name" --hostname "$hostname" --network "$network" \
      "${MAILFORT_PODMAN_RUN_OPTS[@]}" "$image" >/dev/null
  fi
  wait_for_systemd
  ansible-playbook -i inventories/lab playbooks/site.yml
  info
}

info() {
  local ip
  ip=$(address)
  cat <<INFO

mailfort lab host is up.
  container : $name ($distro, image $image)
  address   : $ip   (reachable from this machine)
  host name : $hostname
  ports     : 25 (MX)

Try it:
  # Relaying is refused (expect: 554 5.7.1 ... Relay access denied)
  swaks --server $ip --port 25 --helo client.example.com \\
        --from someone@example.com --to relaytest@example.invalid --quit-after RCPT

Remove the lab host: make lab-down
INFO
}

down() {
  podman rm --force --ignore "$name" >/dev/null 2>&1 || podman rm --force "$name" >/dev/null 2>&1 || true
  podman network exists "$network" && podman network rm --force "$network" >/dev/null || true
  echo "lab host $name removed"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  info) info ;;
  *) echo "usage: $0 up|down|info" >&2; exit 2 ;;
esac

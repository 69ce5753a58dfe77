#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The local lab: a mail server and a sink/DNS host, podman containers running
# systemd, converged by playbooks/lab.yml (the lab around playbooks/site.yml).
#
# usage: lab/lab.sh up|down|info [ansible-playbook options for up]
#   MAILFORT_DISTRO=debian12|debian13 (default debian12) picks the base image.
#   MAILFORT_LAB_MAIL_HOSTS=N (default 1, at most 9) adds mail servers
#   mailfort-lab-2 .. -N (mx2.lab.test ..., DKIM selector mx2 ...): a small
#   fleet for rolling deploys (tests/rolling-deploy.sh). They join the group
#   mailservers through .cache/lab/fleet.yml, a second inventory source.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lab/podman.env
. lab/podman.env

name=mailfort-lab
sink=mailfort-lab-sink
network=mailfort-lab
distro=${MAILFORT_DISTRO:-debian12}
base_image=localhost/mailfort-base:$distro
# MAILFORT_LAB_IMAGE / MAILFORT_LAB_SINK_IMAGE: start the mail servers / the sink
# from another image, e.g. one of an already converged host (CI's rolling deploy
# starts from the lab's converged mail server: tests/lab-run.sh).
image=${MAILFORT_LAB_IMAGE:-$base_image}
sink_image=${MAILFORT_LAB_SINK_IMAGE:-$base_image}
hostname=mx.lab.test
mail_hosts=${MAILFORT_LAB_MAIL_HOSTS:-1}
fleet_inventory=.cache/lab/fleet.yml
case "$mail_hosts" in
  [1-9]) ;;
  *) echo "MAILFORT_LAB_MAIL_HOSTS must be a number from 1 to 9, got '$mail_hosts'" >&2; exit 2 ;;
esac

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

# start IMAGE CONTAINER HOSTNAME [podman options]: reuse a running container of
# that image and the right capabilities, else (re)create it.
start() {
  local image=$1 container=$2 host=$3
  shift 3
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

# The inventory sources: the lab's, and with more than one mail server the fleet file.
inventories() {
  echo "-i inventories/lab"
  if [ "$mail_hosts" -gt 1 ]; then echo "-i $fleet_inventory"; fi
}

write_fleet_inventory() {
  mkdir -p "$(dirname "$fleet_inventory")"
  {
    echo "# Written by lab/lab.sh (MAILFORT_LAB_MAIL_HOSTS=$mail_hosts): the lab's further mail servers."
    echo "all:"
    echo "  children:"
    echo "    mailservers:"
    echo "      hosts:"
    for n in $(seq 2 "$mail_hosts"); do
      echo "        $name-$n: {postfix_hostname: mx$n.lab.test, opendkim_selector: mx$n}"
    done
  } >"$fleet_inventory"
}

up() {
  lab/build-image.sh "$distro"
  lab/network.sh "$network" 10.89.70.0/24 fd00:6d66:70::/64
  start "$sink_image" "$sink" sink.lab.test
  # The mail servers run their own nftables firewall (roles/firewall).
  start "$image" "$name" "$hostname" --cap-add=NET_ADMIN
  for n in $(seq 2 "$mail_hosts"); do start "$image" "$name-$n" "mx$n.lab.test" --cap-add=NET_ADMIN; done
  wait_for_systemd "$sink"
  wait_for_systemd "$name"
  for n in $(seq 2 "$mail_hosts"); do wait_for_systemd "$name-$n"; done
  write_fleet_inventory
  # shellcheck disable=SC2046 # inventories prints options, one word each
  ansible-playbook $(inventories) playbooks/lab.yml "$@"
  info
}

info() {
  local ip
  ip=$(address "$name")
  # LAB ONLY credentials, from inventories/lab/group_vars/mailservers/accounts.yml.
  local user=alice@lab.test pass=lab-only-Kestrel-7f3k9q ca=.cache/lab-ca/ca.crt
  cat <<INFO

mailfort lab is up.
  mail server : $name ($distro) at $ip, host name $hostname$(for n in $(seq 2 "$mail_hosts"); do
                printf '\n  mail server : %s at %s, host name mx%s.lab.test' "$name-$n" "$(address "$name-$n")" "$n"; done)
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
  local extra
  for extra in $(podman ps --all --format '{{.Names}}' | grep -E "^$name-[2-9]\$" || true); do remove "$extra"; done
  rm -f "$fleet_inventory"
  remove "$name"
  remove "$sink"
  if podman network exists "$network"; then
    podman network rm --force "$network" >/dev/null || true
  fi
  echo "lab hosts $name and $sink removed"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  info) info ;;
  *) echo "usage: $0 up|down|info" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Create a dual-stack (IPv4 + IPv6) podman network for lab hosts, unless a
# network of that name with both subnets already exists. A stale network of
# the same name without them (and without containers) is replaced, and so is
# another lab's network left behind on the same subnets (podman refuses to
# create a second network on a subnet in use).
#
# usage: lab/network.sh NAME IPV4_SUBNET IPV6_SUBNET
set -euo pipefail
name=$1 v4=$2 v6=$3

subnets() { podman network inspect --format '{{range .Subnets}}{{.Subnet}} {{end}}' "$name" 2>/dev/null || true; }

if podman network exists "$name"; then
  current=$(subnets)
  if [[ " $current " == *" $v4 "* && " $current " == *" $v6 "* ]]; then
    exit 0
  fi
  echo "replacing podman network $name (subnets: ${current:-none}; wanted $v4 $v6)"
  podman network rm --force "$name" >/dev/null
fi
# Another lab network on one of our subnets: stale if no container uses it.
for other in $(podman network ls --format '{{.Name}}' --filter 'name=^mailfort-'); do
  [ "$other" = "$name" ] && continue
  used=$(podman network inspect --format '{{range .Subnets}}{{.Subnet}} {{end}}' "$other" 2>/dev/null || true)
  if [[ " $used " == *" $v4 "* || " $used " == *" $v6 "* ]]; then
    if [ -n "$(podman ps -a -q --filter "network=$other")" ]; then
      echo "podman network $other uses $v4/$v6 and has containers: remove that lab first" >&2
      exit 1
    fi
    echo "removing stale podman network $other (it holds $used)"
    podman network rm --force "$other" >/dev/null
  fi
done
podman network create --ipv6 --subnet "$v4" --subnet "$v6" "$name" >/dev/null
echo "created podman network $name ($v4, $v6)"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Create a dual-stack (IPv4 + IPv6) podman network for lab hosts, unless a
# network of that name with both subnets already exists. A stale network of
# the same name without them (and without containers) is replaced.
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
podman network create --ipv6 --subnet "$v4" --subnet "$v6" "$name" >/dev/null
echo "created podman network $name ($v4, $v6)"

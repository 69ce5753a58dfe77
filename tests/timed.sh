#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usage: tests/timed.sh NAME COMMAND...: run COMMAND, append its wall time to
# .cache/timings/$TIMING_GROUP.tsv (default group: all; tests/summary.py prints
# the table) and exit with COMMAND's status.
set -uo pipefail
name=$1
shift
dir="$(cd "$(dirname "$0")/.." && pwd)/.cache/timings"
mkdir -p "$dir"
started=$(date +%s%N)
"$@"
rc=$?
tenths=$(( ($(date +%s%N) - started) / 100000000 ))
group=${TIMING_GROUP:-all}
printf '%s\t%s\t%d.%d\t%s\n' "$group" "$name" $((tenths / 10)) $((tenths % 10)) \
  "$([ $rc -eq 0 ] && echo ok || echo "failed ($rc)")" >>"$dir/$group.tsv"
exit $rc

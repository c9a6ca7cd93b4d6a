#!/usr/bin/env bash
# The device each job computed on, counted per rule, from a study's job logs: the line
# cdga.core.device logs in every GPU rule's log (results/logs/<rule>[/<wildcards>].log,
# cdga.core.layout.log). Prints "<count> <rule> <device>" rows.
#
#   benchmarks/devices.sh STUDY/results/logs
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 LOGS" >&2; exit 2; }
cd "$1"
grep -r "cdga.core.device: device:" . \
  | sed -E 's#^\./([^/.:]+)[/.].*cdga\.core\.device: device: ([^ ]+).*#\1 \2#' \
  | sort | uniq -c

#!/usr/bin/env bash
# Stop the one-node cluster of local-slurm-up.sh by its pid files (slurmd first, munge last).
set -u
for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
  [ -s "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null || continue
  kill "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && echo "warning: pid $pid ($pidfile) is still running" >&2
done
exit 0

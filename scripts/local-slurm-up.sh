#!/usr/bin/env bash
# Try the cluster path on one machine: a one-node SLURM cluster (Debian/Ubuntu, root, no systemd needed).
# Installs slurmctld, slurmd, slurm-client and munge if missing, writes /etc/slurm/slurm.conf for this host,
# starts the daemons by hand and waits until the node is idle. Idempotent; stop it with local-slurm-down.sh.
#
#   sudo FAKE_GPUS=1 CPUS=8 bash scripts/local-slurm-up.sh
#
# CPUS=N declares N cores (default: nproc): a run's server jobs (servers: per_run_slurm) hold a core each for the
# whole run while mostly waiting, so on a 2-core machine the run's other jobs need the node to declare more.
# FAKE_GPUS=N advertises N fake "gpu" GRES (char devices with /dev/null's numbers), so rules that request
# GPUs are scheduled; their code still runs on the CPU. No accounting database: the Snakemake profile reads job
# states with squeue (slurm-status-command: squeue), which needs MinJobAge >= 3 x the first status delay.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
FAKE_GPUS=${FAKE_GPUS:-0}
PACKAGES="slurmctld slurmd slurm-client munge"

install_packages() {
  local missing=""
  for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  [ -z "$missing" ] && return
  apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null; }
}

stop_by_pidfile() {
  local pid
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}

write_config() {
  local node=$1 gres_types="" gres_node=""
  # RealMemory above what slurmd detects makes the node INVAL: leave 4 GiB of headroom.
  local mem=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) - 4096 ))
  mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
  if [ "$FAKE_GPUS" -gt 0 ]; then
    gres_types="GresTypes=gpu"
    gres_node="Gres=gpu:${FAKE_GPUS}"
    for i in $(seq 0 $((FAKE_GPUS - 1))); do [ -e /dev/fakegpu$i ] || mknod /dev/fakegpu$i c 1 3; done
    echo "NodeName=${node} Name=gpu File=/dev/fakegpu[0-$((FAKE_GPUS - 1))]" > /etc/slurm/gres.conf
  else
    rm -f /etc/slurm/gres.conf
  fi
  cat > /etc/slurm/slurm.conf.new <<CONF
ClusterName=s3local
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# CPUS above nproc: SLURM trusts the configured count (a run's server jobs mostly wait, beside its other jobs)
SlurmdParameters=config_overrides
MinJobAge=300
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/lib/slurm/slurmd
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
${gres_types}
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${CPUS:-$(nproc)} RealMemory=${mem} ${gres_node} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  if ! cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf; then
    stop_by_pidfile /run/slurmd.pid      # running daemons must re-read a changed config
    stop_by_pidfile /run/slurmctld.pid
  fi
  mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
}

start_munge() {
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --force
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  fi
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
}

start_slurm() {
  local node=$1 state=""
  if ! scontrol ping 2>/dev/null | grep -q UP; then
    slurmctld -c                       # -c: a clean state, no jobs or node states from an earlier run
    for _ in $(seq 1 50); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
  fi
  if [ ! -s /run/slurmd.pid ] || ! kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null; then
    slurmd
  fi
  for _ in $(seq 1 150); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1)
    case "$state" in
      idle|mix|alloc) sinfo; return 0 ;;
      down*|drain*|inval*) scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
  done
  echo "the SLURM node did not become idle (state: ${state:-none}); see /var/log/slurm/" >&2
  sinfo -R >&2 || true
  return 1
}

NODE=$(hostname -s)
install_packages
write_config "$NODE"
start_munge
start_slurm "$NODE"

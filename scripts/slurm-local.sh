#!/usr/bin/env bash
# A one-node Slurm on this machine for the Slurm test: Debian's slurm-wlm and munge (installed
# if missing), a slurm.conf for this host (its CPUs, no GPUs), munged, slurmctld and slurmd.
# Finished jobs are recorded in /var/log/slurm/jobcomp.log (JobState=COMPLETED, FAILED,
# TIMEOUT, CANCELLED, ...), where the tests read how Slurm saw each job end.
#   scripts/slurm-local.sh start | stop | run <command...>   (run: start, command, stop)
# Needs root (apt-get, daemons). Exit 3 when Slurm cannot be set up here (no root, no apt).
set -euo pipefail

host=$(hostname -s)
conf=/etc/slurm/slurm.conf

install() {
  if command -v slurmctld >/dev/null && command -v munged >/dev/null; then return; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "slurm-local: slurm-wlm and munge are missing and cannot be installed here (needs root and apt-get)" >&2
    exit 3
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null; }
}

start() {
  install
  [ "$(id -u)" = 0 ] || { echo "slurm-local: needs root" >&2; exit 3; }
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
  cpus=$(nproc)
  cat > "$conf" <<CONF
ClusterName=local
SlurmctldHost=$host
AuthType=auth/munge
# A requeued job may start again once its credential expired: 10 s, not 120 (the tests requeue).
AuthInfo=cred_expire=10
SlurmUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
AccountingStorageType=accounting_storage/none
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  [ -f /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
  chown -R munge: /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  pgrep -x munged >/dev/null || su -s /bin/sh munge -c munged 2>/dev/null || munged --force
  pgrep -x slurmctld >/dev/null || slurmctld
  pgrep -x slurmd >/dev/null || slurmd
  for _ in $(seq 60); do
    if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then return; fi
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  echo "slurm-local: the node did not come up; see /var/log/slurm" >&2
  sinfo >&2 || true
  exit 1
}

stop() {
  scancel --user="$(id -un)" >/dev/null 2>&1 || true
  pkill -x slurmd || true
  pkill -x slurmctld || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  run) shift; start; trap stop EXIT; "$@" ;;
  *) echo "usage: $0 start | stop | run <command...>" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# down.sh - stop HeyHi's test cluster: cancel all Slurm jobs (while the cluster we started is
# still up), then stop ONLY the daemons whose PIDs tests/cluster/up.sh recorded, in reverse order.
# Idempotent: nothing recorded / already stopped = nothing to do.
#   --purge : also wipe Slurm state, logs and the accounting DB (fresh cluster next time)
set -uo pipefail
STATE=${HEYHI_CLUSTER_DIR:-/var/lib/heyhi-testcluster}
PIDS=$STATE/pids
PURGE=0; [ "${1:-}" = "--purge" ] && PURGE=1
T0=$EPOCHREALTIME
log() { printf '[down %6.2fs] %s\n' "$(awk "BEGIN{print $EPOCHREALTIME - $T0}")" "$*"; }
[ "$(id -u)" = 0 ] || { echo "down.sh: must run as root" >&2; exit 1; }
trap '' PIPE  # a closed stdout (down.sh | head) must not stop it half-way

# the recorded PID, if that process is still the same program (a zombie has no readable exe)
alive() {  # alive NAME BINARY -> echoes pid
  local f=$PIDS/$1.pid p
  [ -s "$f" ] || return 1
  p=$(cat "$f")
  [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$(readlink -f "$2")" ] && echo "$p"
}
stop() {  # stop NAME BINARY
  local p
  if p=$(alive "$1" "$2"); then
    kill -TERM "$p"
    for _ in $(seq 200); do readlink "/proc/$p/exe" >/dev/null 2>&1 || break; sleep 0.05; done
    if readlink "/proc/$p/exe" >/dev/null 2>&1; then kill -KILL "$p"; log "$1 ($p) SIGKILLed"; else log "$1 ($p) stopped"; fi
  fi
  rm -f "$PIDS/$1.pid"
}

# 1. cancel all jobs (any user's) while our slurmctld/slurmd are still up; wait for them to drain
if alive slurmctld /usr/sbin/slurmctld >/dev/null && alive slurmd /usr/sbin/slurmd >/dev/null; then
  jobs=$(timeout 15 squeue -h -o %A 2>/dev/null | sort -u)
  if [ -n "$jobs" ]; then
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 300); do [ -z "$(timeout 15 squeue -h 2>/dev/null)" ] && break; sleep 0.05; done
    log "cancelled jobs: ${jobs//$'\n'/ }"
  fi
fi
# 2. daemons, reverse start order
stop sshd /usr/sbin/sshd
stop slurmd /usr/sbin/slurmd
stop slurmctld /usr/sbin/slurmctld
stop slurmdbd /usr/sbin/slurmdbd
if [ $PURGE = 1 ] && alive mariadb /usr/sbin/mariadbd >/dev/null; then
  mysql --socket=/run/mysqld/mysqld.sock -e 'DROP DATABASE IF EXISTS slurm_acct_db' && log "dropped slurm_acct_db"
fi
stop mariadb /usr/sbin/mariadbd
stop munged /usr/sbin/munged
if [ $PURGE = 1 ]; then
  rm -rf "${STATE:?}/slurmctld" "${STATE:?}/slurmd" "${STATE:?}/log"
  log "purged slurm state and logs"
fi
log "down"

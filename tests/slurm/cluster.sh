#!/usr/bin/env bash
# A one-node SLURM on localhost with four placeholder GPUs, for the integration test.
#
#   tests/slurm/cluster.sh start STATE_DIR   install (Debian packages) if needed, configure, start;
#                                            a cluster already running from STATE_DIR is reused,
#                                            one left from another STATE_DIR is stopped first
#   tests/slurm/cluster.sh stop STATE_DIR    stop the daemons started by `start`, by pid, and wait
#                                            until they have exited (exit 1 if one remains);
#                                            remove the config files `start` wrote
#
# Needs root and apt-get (Debian 12: Slurm 22.05). The daemons' state, logs and pid files live in
# STATE_DIR; only /etc/slurm/slurm.conf and gres.conf must sit at their compiled-in paths (the
# plugin's job steps drop SLURM_CONF), so `start` refuses to replace a slurm.conf it did not write.
# No accounting (slurmdbd): the profile's squeue status checks need none.
set -euo pipefail

MARK="# written by cdga tests/slurm/cluster.sh"
CONF=/etc/slurm/slurm.conf
GRES=/etc/slurm/gres.conf

die() { echo "cluster.sh: $*" >&2; exit 1; }

install_packages() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null && return
    command -v apt-get >/dev/null || die "apt-get not found: cannot install SLURM"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

write_config() {
    local state=$1 host=$2
    if [[ -e $CONF ]] && ! grep -qF "$MARK" "$CONF"; then
        die "$CONF exists and was not written by this script; refusing to replace a real config"
    fi
    mkdir -p /etc/slurm "$state/ctld" "$state/slurmd" "$state/log"
    # The node is this machine's memory with twice its CPUs (config_overrides: slurmd takes the
    # config's word) and four placeholder GPUs (device files that exist). The test study's jobs
    # are short and mostly wait on status checks, so four at a time halve its rounds.
    local detected cpus memory
    detected=$(slurmd -C | head -1)
    cpus=$(grep -oP '\bCPUs=\K[0-9]+' <<<"$detected")
    memory=$(grep -oP '\bRealMemory=\K[0-9]+' <<<"$detected")
    cat >"$CONF" <<EOF
$MARK (state: $state)
ClusterName=cdgatest
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue/scontrol for an hour: the profile's squeue status checks
# need MinJobAge above their polling interval, and the test reads every job's record afterwards.
MinJobAge=3600
GresTypes=gpu
SlurmdParameters=config_overrides
NodeName=$host CPUs=$((2 * cpus)) RealMemory=$memory Gres=gpu:4 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$GRES" <<EOF
$MARK
NodeName=$host Name=gpu File=/dev/null
NodeName=$host Name=gpu File=/dev/zero
NodeName=$host Name=gpu File=/dev/full
NodeName=$host Name=gpu File=/dev/urandom
EOF
}

start_munge() {
    local state=$1
    if (munge -n </dev/null | unmunge) >/dev/null 2>&1; then
        return  # a munged is already running: use it, and leave it running at stop
    fi
    mkdir -p /run/munge /var/log/munge
    chown munge: /run/munge /var/log/munge
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    cp /run/munge/munged.pid "$state/munged.pid"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: 0 once COMMAND succeeds, else 1
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq "$seconds"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 1
    done
    echo "cluster.sh: timed out after ${seconds}s waiting for $what" >&2
    return 1
}

alive() {  # alive PID: the process exists and is not a zombie (a container's init may not reap)
    [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

running_from() {  # running_from STATE_DIR: slurmctld and slurmd started from STATE_DIR both run
    local f
    for f in "$1/slurmctld.pid" "$1/slurmd.pid"; do
        [[ -s $f ]] && alive "$(cat "$f")" || return 1
    done
}

node_idle() { [[ $(sinfo -h -n "$1" -o %T) == idle ]]; }

start() {
    local state=$1 host
    [[ $(id -u) == 0 ]] || die "must run as root"
    host=$(hostname -s)
    if running_from "$state" && scontrol ping >/dev/null 2>&1; then
        echo "SLURM is up (reused): the cluster of $state already runs"
        return
    fi
    # A cluster this script started from another state directory (an interrupted run): stop it
    # and wait for its daemons, so that the new controller is the only one.
    local previous
    previous=$([[ -e $CONF ]] && grep -oP "^\Q$MARK\E \(state: \K[^)]+" "$CONF" || true)
    if [[ -n $previous && $previous != "$state" ]]; then
        stop "$previous" || die "the cluster left from $previous did not stop"
    fi
    if command -v scontrol >/dev/null && scontrol ping >/dev/null 2>&1; then
        die "a SLURM controller that this script cannot stop (no pid file) still runs"
    fi
    install_packages
    write_config "$state" "$host"
    start_munge "$state"
    slurmctld
    wait_for 30 slurmctld scontrol ping || exit 1
    slurmd
    wait_for 30 "node $host to register" scontrol show node "$host" || exit 1
    scontrol update nodename="$host" state=resume 2>/dev/null || true
    wait_for 60 "node $host to become idle" node_idle "$host" || exit 1
    echo "SLURM is up: node $host, partition debug, state in $state"
}

stop_pidfile() {  # stop the process in a pid file written by start and wait until it has exited;
    local file=$1 pid  # 1 if it is still there after SIGKILL
    [[ -s $file ]] || return 0
    pid=$(cat "$file")
    alive "$pid" && kill "$pid" 2>/dev/null
    for _ in $(seq 60); do
        alive "$pid" || { rm -f "$file"; return 0; }
        sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 20); do
        alive "$pid" || { rm -f "$file"; return 0; }
        sleep 0.5
    done
    echo "cluster.sh: process $pid ($file) did not exit" >&2
    return 1
}

no_running_jobs() { [[ -z $(squeue -h -t RUNNING,COMPLETING -o %i) ]]; }

stop() {
    local state=$1
    if [[ -s $state/slurmctld.pid ]] && scontrol ping >/dev/null 2>&1; then
        # every job on this private cluster is the test's own: end them before their daemons
        scancel --state=PENDING,RUNNING,SUSPENDED "--user=$(id -un)" 2>/dev/null || true
        wait_for 30 "cancelled jobs to end" no_running_jobs || true
    fi
    local failed=0
    stop_pidfile "$state/slurmd.pid" || failed=1
    stop_pidfile "$state/slurmctld.pid" || failed=1
    stop_pidfile "$state/munged.pid" || failed=1
    for f in "$CONF" "$GRES"; do
        if [[ -e $f ]] && grep -qF "$MARK" "$f"; then rm -f "$f"; fi
    done
    return $failed
}

case ${1:-} in
    start) [[ $# == 2 ]] || die "usage: $0 start STATE_DIR"; start "$(realpath -m "$2")" ;;
    stop) [[ $# == 2 ]] || die "usage: $0 stop STATE_DIR"; stop "$(realpath -m "$2")" ;;
    *) die "usage: $0 start|stop STATE_DIR" ;;
esac

# shellcheck shell=bash
# What the scripts of scripts/engines/ share. Sourced, never run.

# The daemons a script starts must not keep what its caller holds open (a flock on a lock file,
# say): close every inherited descriptor but the standard three and bash's script descriptor (255).
close_inherited_fds() {
  local fd_path fd
  for fd_path in /proc/$$/fd/*; do
    fd=${fd_path##*/}
    if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

# Podman's containers.conf for this machine, with its first line naming the script that wrote it.
# Root here lacks CAP_SYS_RESOURCE, so no rlimit can be raised above the current hard limit, and
# podman's defaults (nofile=1048576, nproc=4194304) fail in runc ("error setting rlimit type 6");
# podman also lowers its own RLIMIT_NPROC to 32768 (= pid_max here): both pinned. crun fails on
# this hybrid cgroup v1 host ("cgroups in hybrid mode not supported"): runc. No systemd: cgroupfs,
# events to a file.
podman_containers_conf() {
  local writer=$1 nofile nproc pidmax
  nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
  nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] && nproc=4194304
  pidmax=$(cat /proc/sys/kernel/pid_max)
  (( nproc > pidmax )) && nproc=$pidmax
  (( nproc > 32768 )) && nproc=32768
  cat <<CONF
# written by $writer
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"
CONF
}

# A rootless engine's mounts live in its own mount namespace: none may be visible here after a stop.
no_leftover_mounts() {
  local home=$1 rundir=$2
  if grep -qE " (${home}/|${rundir}/)" /proc/self/mounts; then
    echo "WARNING: leftover mounts:" >&2
    grep -E " (${home}/|${rundir}/)" /proc/self/mounts >&2
    return 1
  fi
}

# Ends every process of a uid (the engine's user): TERM, then KILL; fails if one survives.
kill_uid_processes() {
  local uid=$1 i
  uid_pids() { ps -o pid= -u "$uid" 2>/dev/null | tr -d ' ' | grep -v '^$' || true; }
  [ -z "$(uid_pids)" ] && return 0
  # shellcheck disable=SC2046
  kill -TERM $(uid_pids) 2>/dev/null || true
  for i in $(seq 1 40); do [ -z "$(uid_pids)" ] && return 0; sleep 0.25; done
  echo "SIGKILL to what uid $uid still runs: $(uid_pids | tr '\n' ' ')" >&2
  # shellcheck disable=SC2046
  kill -KILL $(uid_pids) 2>/dev/null || true
  for i in $(seq 1 20); do [ -z "$(uid_pids)" ] && return 0; sleep 0.25; done
  echo "processes of uid $uid survive SIGKILL: $(uid_pids | tr '\n' ' ')" >&2
  return 1
}

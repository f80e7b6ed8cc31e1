#!/usr/bin/env bash
# Kernel settings for holding hundreds of thousands of TCP connections on one
# machine, with the load generator on the same machine. Applies each setting
# (as root) and prints it as `name: before -> after`; `--dry-run` only prints.
#
# Open files are per process and not a sysctl: raise `nofile` for the user
# that runs the server (ulimit -n; `* - nofile 1048576` in
# /etc/security/limits.conf; LimitNOFILE=1048576 in a systemd unit, including
# pm2's own unit, since pm2 passes its limit to the apps it starts). Where the
# hard limit cannot be raised, run more worker processes: WORKERS=N.
#
# The established-connection hash. The kernel finds the socket of every
# arriving TCP segment in one hash table, sized at boot from memory (262,144
# buckets on a 24 GiB machine) and not changeable at run time. A million
# connections with both ends on one machine are two million sockets: chains
# of about eight, and at 900,000 held the lookup (__inet_lookup_established)
# was the largest single cost on the machine. On a real host, size it at boot
# with the kernel parameter `thash_entries=4194304` (at least twice the
# sockets). Without a reboot, a network namespace created after
# `sysctl -w net.ipv4.tcp_child_ehash_entries=N` gets a table of N buckets of
# its own (Linux 6.1+): that is what `npm run bench` does for large runs.
set -euo pipefail

dry_run=0
[ "${1:-}" = "--dry-run" ] && dry_run=1

# Pages of 4 KiB: pressure from 8 GiB, hard limit at 16 GiB of socket buffers.
settings=(
  "net.ipv4.ip_local_port_range=1024 65535"   # ~64k ephemeral ports per source address and destination
  "net.core.somaxconn=65535"                  # accept queue: a fast ramp must not overflow it
  "net.ipv4.tcp_max_syn_backlog=65535"        # SYN queue, for the same reason
  "net.core.netdev_max_backlog=65535"
  "net.ipv4.tcp_mem=2097152 3145728 4194304"  # socket buffer memory for the whole machine
  "net.ipv4.tcp_rmem=4096 16384 6291456"      # a small default receive buffer: streams are tiny
  "net.ipv4.tcp_wmem=4096 16384 4194304"
  "fs.file-max=4194304"                       # system-wide open files
  "fs.nr_open=4194304"                        # the ceiling for a process's nofile
  "net.netfilter.nf_conntrack_max=4194304"    # only present when conntrack is loaded
  "net.ipv4.tcp_tw_reuse=1"                   # reuse ports of closed client connections during reruns
  "net.ipv4.tcp_migrate_req=1"                # a draining worker's queued connections go to the others (SIGHUP)
)

for entry in "${settings[@]}"; do
  name=${entry%%=*}
  value=${entry#*=}
  path=/proc/sys/${name//.//}
  if [ ! -e "$path" ]; then
    echo "$name: not present on this kernel, skipped"
    continue
  fi
  before=$(tr -s '\t ' ' ' < "$path")
  if [ "$before" = "$value" ]; then
    echo "$name: $value (unchanged)"
  elif [ "$dry_run" = 1 ]; then
    echo "$name: $before -> $value (dry run)"
  elif sysctl -q -w "$name=$value" 2>/dev/null; then
    echo "$name: $before -> $value"
  else
    echo "$name: $before (could not set $value)"
  fi
done
echo "nofile (this shell): soft $(ulimit -Sn), hard $(ulimit -Hn)"
ehash=$(cat /proc/sys/net/ipv4/tcp_ehash_entries 2>/dev/null || echo unknown)
echo "net.ipv4.tcp_ehash_entries: $ehash (fixed at boot: thash_entries=; negative means this namespace shares the host's table)"

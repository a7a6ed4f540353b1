#!/bin/sh
# The checks, run inside the cgroup-v2-only guest by the real wharf binary.
#
#   sh checks.sh            run every check, one "WHARF-VM PASS|FAIL <name>" line each
#   sh checks.sh one NAME   run one check (used by the runner, under a time limit)
#
# A check is a function check_<name> that returns 0 when it passes; whatever it prints
# is shown (last lines) when it fails. The harness on the host (app/tests/cgroup2_vm.rs)
# fails unless every check it expects reports PASS.

R=/var/lib/wharf-vm           # state root (on the guest's tmpfs /)
CG=/sys/fs/cgroup
export WHARF_ROOT=$R

IMG=wharf/demo:latest
# Containers of the cgroup checks need no network: `--network none` keeps them quick
# under emulation. run_exit_codes starts one on the default bridge, bridge_network more.
NONET="--network none"

# Checks in the order they run (VMTEST_ONLY=a,b on the kernel command line picks some:
# `VMTEST_APPEND=VMTEST_ONLY=boot,oom_kill vmtest/run.sh`).
CHECKS="boot cgroup2_only controllers info_v2 image_demo run_exit_codes overlay_rootfs
  devices oom_kill pids_limit cpus_half pause_freeze update_live stats_cgroup exec_cgroup bridge_network
  rm_no_cgroup"
[ -n "${VMTEST_ONLY:-}" ] && CHECKS=$(echo "$VMTEST_ONLY" | tr , ' ')

# Per-check time limit, seconds (emulated CPU: generous).
CHECK_TIMEOUT=${CHECK_TIMEOUT:-120}

fail() { echo "$*"; return 1; }

# A figure worth showing on the console whether the check passes or fails.
note() { echo "NOTE: $*"; }

# Run a command, showing it and its output in the check's log; returns its status.
w() {
  echo "+ wharf $*" >&2
  wharf "$@" </dev/null
}

# jget KEY.PATH: a scalar at a dotted key path of pretty-printed JSON on stdin (the
# first element when the JSON is an array, as `wharf inspect` prints); quotes stripped.
jget() {
  awk -v path="$1" '
    NR == 1 { base = ($0 ~ /^\[/) ? 2 : 0; n = split(path, k, "."); lvl = 1 }
    {
      match($0, /^ */); ind = RLENGTH; want = base + 2 * lvl
      if (lvl > 1 && ind < want) exit
      if (ind == want && index($0, "\"" k[lvl] "\":") == ind + 1) {
        if (lvl == n) {
          v = substr($0, ind + length(k[lvl]) + 5); sub(/,$/, "", v); gsub(/^"|"$/, "", v)
          print v; exit
        }
        lvl++
      }
    }'
}

# inspect CTR KEY.PATH
inspect() { wharf inspect "$1" 2>/dev/null | jget "$2"; }

# The container's cgroup directory, from its init process as the kernel reports it.
cgroup_of() {
  pid=$(inspect "$1" State.Pid)
  if [ -z "$pid" ] || [ "$pid" -le 0 ]; then
    echo "cgroup_of $1: State.Pid is \"$pid\"; state and log:" >&2
    wharf inspect "$1" 2>&1 | awk '/"State": \{/,/^    \}/' >&2
    wharf logs "$1" 2>&1 | tail -n 5 >&2
    return 1
  fi
  rel=$(sed -n 's/^0:://p' /proc/"$pid"/cgroup)
  [ -n "$rel" ] || { echo "cgroup_of $1: pid $pid has no cgroup v2 entry: $(cat /proc/"$pid"/cgroup 2>&1)" >&2; return 1; }
  echo "$CG$rel"
}

# wbytes CGROUP MAJ:MIN: bytes written to that device (io.stat).
wbytes() {
  awk -v d="$2" '$1 == d { for (i = 2; i <= NF; i++) if ($i ~ /^wbytes=/) { sub("wbytes=", "", $i); print $i } }' "$1/io.stat"
}

# jnum KEY: the first number for "KEY": in compact JSON on stdin (wharf stats --format json).
jnum() { grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }

# wait_for SECONDS 'SHELL CONDITION': poll (every 0.1 s) until the condition, evaluated
# afresh each time, holds; fails once SECONDS have passed.
wait_for() {
  end=$(($(date +%s) + $1))
  while ! eval "$2" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.1
  done
}

# Seconds since boot, in microseconds (wall clock for CPU shares).
now_usec() { awk '{ printf "%d\n", $1 * 1000000 }' /proc/uptime; }

# key VALUE from a "key value" file (cpu.stat, memory.events, cgroup.events).
kv() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# Containers a check creates: removed after the check whatever its result.
# The runner removes them (also when the check is killed at its time limit).
track() {
  for c in "$@"; do echo "$c" >> "/tmp/vmtest/$CHECK.tracked"; done
  wharf rm -f "$@" >/dev/null 2>&1 </dev/null
}

# The long-running busy container shared by the cpu, pause, update, stats, exec checks.
BUSY=busy
ensure_busy() {
  [ "$(inspect $BUSY State.Status)" = running ] && return 0
  w rm -f $BUSY >/dev/null 2>&1
  w run -d $NONET --name $BUSY --cpus 0.5 $IMG sh -c 'while :; do :; done' || return 1
  wait_for 20 'test "$(inspect $BUSY State.Status)" = running'
}

# --- checks -------------------------------------------------------------------------

check_boot() {
  t=$(stat -f -c %T /)
  [ "$t" = tmpfs ] || fail "/ is $t, not tmpfs (switch_root did not happen)" || return 1
  if [ -s /tmp/vmtest/setup-errors ]; then fail "guest setup failed: $(cat /tmp/vmtest/setup-errors)"; return 1; fi
  grep -q "^/dev/loop[0-9]* $R " /proc/mounts || fail "state root $R is not on a loop device"
}

check_cgroup2_only() {
  grep -q '^[^ ]* /sys/fs/cgroup cgroup2 ' /proc/mounts || fail "no cgroup2 mount on /sys/fs/cgroup: $(cat /proc/mounts)"
  ! awk '$3 == "cgroup"' /proc/mounts | grep -q . || fail "cgroup v1 hierarchies mounted: $(awk '$3 == "cgroup"' /proc/mounts)"
  # No controller bound to a v1 hierarchy (column 2 of /proc/cgroups is the hierarchy id).
  bound=$(awk 'NR > 1 && $2 != 0 { print $1 }' /proc/cgroups)
  [ -z "$bound" ] || fail "controllers bound to v1: $bound"
  [ -e $CG/cgroup.controllers ] || fail "$CG/cgroup.controllers missing"
}

check_controllers() {
  have=" $(cat $CG/cgroup.controllers) "
  enabled=" $(cat $CG/cgroup.subtree_control) "
  echo "available:$have"
  echo "enabled:$enabled"
  for c in cpu cpuset io memory pids; do
    case "$have" in *" $c "*) ;; *) fail "controller $c not available" || return 1 ;; esac
    case "$enabled" in *" $c "*) ;; *) fail "controller $c not enabled in subtree_control" || return 1 ;; esac
  done
}

check_info_v2() {
  out=$(wharf info 2>&1) || fail "wharf info failed: $out" || return 1
  echo "$out"
  echo "$out" | grep -q '^Cgroup mode: *v2$' || fail "wharf info does not say cgroup mode v2" || return 1
  json=$(wharf info --format json 2>&1) || fail "wharf info --format json failed: $json" || return 1
  echo "$json" | grep -q '"cgroup_mode": *"v2"' || fail "wharf info --format json: cgroup_mode is not v2"
}

check_image_demo() {
  w image demo || fail "wharf image demo failed" || return 1
  w images | grep -q '^wharf/demo ' || fail "wharf images does not list wharf/demo"
}

check_run_exit_codes() {
  out=$(w run --rm $IMG echo hello-from-v2) || fail "wharf run echo failed: $out" || return 1
  echo "$out" | grep -q '^hello-from-v2$' || fail "output was: $out" || return 1
  for c in "0:true" "3:sh -c 'exit 3'" "127:/no/such/command" "126:/etc/hostname"; do
    want=${c%%:*}; cmd=${c#*:}
    eval "w run --rm $NONET $IMG $cmd"
    rc=$?
    [ "$rc" = "$want" ] || fail "wharf run $cmd: exit $rc, want $want" || return 1
  done
  # Killed by a signal: 128 + signal, from wait and inspect.
  track killed
  w run -d $NONET --name killed $IMG sleep 600 || fail "wharf run -d failed" || return 1
  w kill killed || fail "wharf kill failed" || return 1
  code=$(w wait killed); st=$(inspect killed State.ExitCode)
  w rm -f killed
  [ "$code" = 137 ] || fail "wharf wait after SIGKILL printed $code, want 137" || return 1
  [ "$st" = 137 ] || fail "State.ExitCode after SIGKILL is $st, want 137"
}

# v2 has no devices controller: the eBPF device program keeps containers to Docker's list.
# An unassigned char device (240:0) fails with EPERM behind the program, with ENXIO (no
# driver) without it, as in a privileged container.
check_devices() {
  try='mknod /tmp/c240 c 240 0 && mknod /tmp/null2 c 1 3 && echo ok > /tmp/null2 && echo null-ok; cat /tmp/c240'
  out=$(w run --rm $NONET $IMG sh -c "$try" 2>&1)
  echo "$out"
  echo "$out" | grep -q null-ok || fail "a container cannot use a node for /dev/null (1:3): $out" || return 1
  echo "$out" | grep -q "not permitted" || fail "a container opened char device 240:0 (want EPERM from the device program): $out" || return 1
  priv=$(w run --rm $NONET --privileged $IMG sh -c "$try" 2>&1)
  echo "$priv"
  echo "$priv" | grep -q "not permitted" && fail "a privileged container is refused device 240:0: $priv" && return 1
  echo "$priv" | grep -q "No such device" || fail "privileged: want ENXIO for 240:0, got: $priv" || return 1
  note "devices: 240:0 refused (EPERM) by the eBPF device program, /dev/null's numbers usable; privileged gets ENXIO (no program)"
}

check_overlay_rootfs() {
  root=$(w run --rm $NONET $IMG sh -c 'awk "\$2 == \"/\" { print \$3 }" /proc/mounts') || fail "wharf run failed: $root" || return 1
  [ "$root" = overlay ] || fail "container / is \"$root\", not overlay" || return 1
  w run --rm $NONET $IMG sh -c 'echo x > /written-by-one' || fail "writing into the container's rootfs failed" || return 1
  w run --rm $NONET $IMG test ! -e /written-by-one || fail "a write in one container shows in the next (not copy-on-write)"
}

check_oom_kill() {
  track oom
  w run $NONET --name oom -m 16m --memory-swap 16m $IMG dd if=/dev/zero of=/dev/null bs=64M count=1
  rc=$?
  oom=$(inspect oom State.OOMKilled); code=$(inspect oom State.ExitCode)
  note "dd of 64 MB at -m 16m: run exit $rc, State.OOMKilled $oom, State.ExitCode $code"
  w rm -f oom
  [ "$rc" = 137 ] || fail "wharf run exited $rc, want 137" || return 1
  [ "$code" = 137 ] || fail "State.ExitCode is $code, want 137" || return 1
  [ "$oom" = true ] || fail "State.OOMKilled is $oom, want true"
}

check_pids_limit() {
  track bomb
  # A fork bomb in the background; pid 1 becomes sleep (exec: no fork needed).
  w run -d $NONET --name bomb --pids-limit 16 $IMG sh -c 'bomb() { bomb | bomb & }; bomb; exec sleep 600' || fail "wharf run failed" || return 1
  cg=$(cgroup_of bomb) || { w rm -f bomb; fail "no cgroup for the bomb container"; return 1; }
  echo "cgroup $cg: pids.max $(cat "$cg/pids.max")"
  wait_for 60 'test "$(kv "$cg/pids.events" max)" -gt 0'
  hits=$(kv "$cg/pids.events" max); cur=$(cat "$cg/pids.current"); max=$(cat "$cg/pids.max")
  note "fork bomb at --pids-limit 16: pids.current $cur, fork rejected $hits times (pids.events max)"
  running=$(inspect bomb State.Status)
  w rm -f bomb || fail "wharf rm -f of the fork bomb failed" || return 1
  [ "$max" = 16 ] || fail "pids.max is $max, want 16" || return 1
  [ "${hits:-0}" -gt 0 ] || fail "the fork bomb never hit the pids limit" || return 1
  [ "$cur" -le 16 ] || fail "pids.current $cur is above the limit" || return 1
  [ "$running" = running ] || fail "the container's pid 1 died ($running)" || return 1
  [ ! -d "$cg" ] || fail "cgroup $cg left behind by rm -f"
}

check_cpus_half() {
  ensure_busy || fail "cannot start the busy container" || return 1
  cg=$(cgroup_of $BUSY) || fail "no cgroup for $BUSY" || return 1
  max=$(cat "$cg/cpu.max"); echo "cpu.max $max"
  [ "$max" = "50000 100000" ] || fail "cpu.max is \"$max\", want \"50000 100000\"" || return 1
  sleep 1
  u0=$(kv "$cg/cpu.stat" usage_usec); th0=$(kv "$cg/cpu.stat" nr_throttled); t0=$(now_usec)
  sleep 5
  u1=$(kv "$cg/cpu.stat" usage_usec); th1=$(kv "$cg/cpu.stat" nr_throttled); t1=$(now_usec)
  pct=$(( (u1 - u0) * 100 / (t1 - t0) ))
  note "busy loop at --cpus 0.5 used ${pct}% of a CPU over $(( (t1 - t0) / 1000 )) ms (cpu.stat usage_usec), throttled in $((th1 - th0)) periods"
  [ $((th1 - th0)) -gt 0 ] || fail "never throttled (cpu.stat nr_throttled did not move)" || return 1
  [ "$pct" -ge 35 ] && [ "$pct" -le 60 ] || fail "busy loop used ${pct}% of a CPU, want about 50%"
}

check_pause_freeze() {
  ensure_busy || fail "cannot start the busy container" || return 1
  cg=$(cgroup_of $BUSY) || fail "no cgroup for $BUSY" || return 1
  w pause $BUSY || fail "wharf pause failed" || return 1
  fz=$(cat "$cg/cgroup.freeze"); ev=$(kv "$cg/cgroup.events" frozen); st=$(inspect $BUSY State.Status)
  u0=$(kv "$cg/cpu.stat" usage_usec); sleep 2; u1=$(kv "$cg/cpu.stat" usage_usec)
  note "paused: cgroup.freeze $fz, frozen $ev, status $st, cpu used in 2 s: $((u1 - u0)) us"
  [ "$fz" = 1 ] || fail "cgroup.freeze is $fz after pause" || return 1
  [ "$ev" = 1 ] || fail "cgroup.events frozen is $ev after pause" || return 1
  [ "$st" = paused ] || fail "State.Status is $st after pause" || return 1
  [ $((u1 - u0)) -lt 20000 ] || fail "a paused busy loop used $((u1 - u0)) us of CPU in 2 s" || return 1
  w unpause $BUSY || fail "wharf unpause failed" || return 1
  fz=$(cat "$cg/cgroup.freeze"); ev=$(kv "$cg/cgroup.events" frozen); st=$(inspect $BUSY State.Status)
  u0=$(kv "$cg/cpu.stat" usage_usec); sleep 2; u1=$(kv "$cg/cpu.stat" usage_usec)
  note "unpaused: cgroup.freeze $fz, frozen $ev, status $st, cpu used in 2 s: $((u1 - u0)) us"
  [ "$fz" = 0 ] && [ "$ev" = 0 ] || fail "still frozen after unpause" || return 1
  [ "$st" = running ] || fail "State.Status is $st after unpause" || return 1
  [ $((u1 - u0)) -gt 300000 ] || fail "the busy loop did not run again after unpause"
}

check_update_live() {
  ensure_busy || fail "cannot start the busy container" || return 1
  cg=$(cgroup_of $BUSY) || fail "no cgroup for $BUSY" || return 1
  pid0=$(inspect $BUSY State.Pid)
  w update --memory 48m --memory-swap 64m --cpus 0.25 --pids-limit 40 $BUSY || fail "wharf update failed" || return 1
  m=$(cat "$cg/memory.max"); sw=$(cat "$cg/memory.swap.max" 2>/dev/null || echo absent)
  c=$(cat "$cg/cpu.max"); p=$(cat "$cg/pids.max"); pid1=$(inspect $BUSY State.Pid)
  note "after update: memory.max $m, memory.swap.max $sw, cpu.max $c, pids.max $p, pid $pid0 -> $pid1"
  [ "$m" = $((48 * 1024 * 1024)) ] || fail "memory.max is $m, want $((48 * 1024 * 1024))" || return 1
  [ "$sw" = absent ] || [ "$sw" = $((16 * 1024 * 1024)) ] || fail "memory.swap.max is $sw, want $((16 * 1024 * 1024))" || return 1
  [ "$c" = "25000 100000" ] || fail "cpu.max is \"$c\", want \"25000 100000\"" || return 1
  [ "$p" = 40 ] || fail "pids.max is $p, want 40" || return 1
  [ "$pid0" = "$pid1" ] || fail "the container restarted (pid $pid0 -> $pid1); update must be live" || return 1
  hm=$(inspect $BUSY HostConfig.Memory)
  [ "$hm" = $((48 * 1024 * 1024)) ] || fail "inspect HostConfig.Memory is $hm after update"
}

# Names of the bridges on the (guest) host.
bridges() { for b in /sys/class/net/*/bridge; do [ -d "$b" ] && basename "$(dirname "$b")"; done | tr '\n' ' '; }

check_bridge_network() {
  track web
  w network rm v2net >/dev/null 2>&1
  before=" $(bridges) "
  w network create --subnet 10.77.0.0/24 v2net || fail "wharf network create failed" || return 1
  w run -d --name web --network v2net $IMG httpd -f -p 80 -h /www || fail "starting the web container failed" || return 1
  ip=$(inspect web NetworkSettings.IPAddress)
  echo "web is at $ip"
  case "$ip" in 10.77.0.*) ;; *) fail "web's address \"$ip\" is not in 10.77.0.0/24" || return 1 ;; esac
  new=""; for b in $(bridges); do case "$before" in *" $b "*) ;; *) new="$new $b" ;; esac; done
  echo "bridges before: $before; new: $new"
  [ -n "$new" ] || fail "no new bridge for v2net" || return 1
  nft list table ip wharf >/dev/null || fail "no nftables table ip wharf" || return 1
  # HTTP with nc (the demo image's static busybox wget crashes without the host's NSS
  # libraries). httpd may take a moment to listen under emulation: retry for 20 s.
  get='printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3'
  out=$(w run --rm --network v2net $IMG sh -c "for i in \$(seq 40); do $get $ip 80 && exit 0; sleep 0.5; done; ip addr; ip route; exit 1" 2>&1)
  echo "$out"
  echo "$out" | grep -q "Hello from the wharf demo image" || fail "a second container on v2net cannot fetch http://$ip/ from web" || return 1
  byname=$(w run --rm --network v2net $IMG sh -c "$get web 80" 2>&1)
  echo "$byname" | grep -q "Hello from the wharf demo image" || fail "web is not reachable by name on v2net: $byname" || return 1
  none=$(w run --rm --network none $IMG sh -c "$get $ip 80" 2>&1) && fail "a container without network reached web: $none" && return 1
  note "web at $ip on bridge network v2net (bridge$new): fetched by address and by name from a second container"
  w rm -f web || fail "wharf rm -f web failed" || return 1
  w network rm v2net || fail "wharf network rm failed" || return 1
  for b in $new; do [ ! -e "/sys/class/net/$b" ] || fail "bridge $b of v2net is still there after network rm" || return 1; done
}

# proc_in CGROUP 'CMDLINE': the pid of a process of that cgroup with that command line.
proc_in() {
  for p in $(cat "$1/cgroup.procs"); do
    [ "$(tr '\0' ' ' < /proc/"$p"/cmdline 2>/dev/null)" = "$2 " ] && { echo "$p"; return 0; }
  done
  return 1
}

check_exec_cgroup() {
  ensure_busy || fail "cannot start the busy container" || return 1
  cg=$(cgroup_of $BUSY) || fail "no cgroup for $BUSY" || return 1
  cpid=$(inspect $BUSY State.Pid)
  inside=$(w exec $BUSY cat /proc/self/cgroup) || fail "wharf exec failed: $inside" || return 1
  [ "$inside" = "0::/" ] || fail "exec'd process sees cgroup \"$inside\", want 0::/ (the container's cgroup namespace)" || return 1
  w exec $BUSY sh -c 'exit 7'; rc=$?
  [ "$rc" = 7 ] || fail "wharf exec exit code $rc, want 7" || return 1
  w exec -d $BUSY sleep 301 || fail "wharf exec -d failed" || return 1
  wait_for 20 'proc_in "$cg" "sleep 301"' || fail "the exec'd sleep is not in $cg/cgroup.procs: $(cat "$cg/cgroup.procs")" || return 1
  spid=$(proc_in "$cg" "sleep 301")
  [ "$(readlink /proc/$spid/ns/pid)" = "$(readlink /proc/$cpid/ns/pid)" ] || fail "exec'd process is not in the container's pid namespace" || return 1
  note "exec: /proc/self/cgroup inside is $inside; exec -d'd sleep (host pid $spid) is in $cg with the container's pid namespace; exit code 7 passed back"
}

check_stats_cgroup() {
  track st
  # 8 MiB of shmem, 4 MiB written with O_DIRECT to the rootfs (ext2 on a loop device),
  # then three processes that sleep.
  w run -d $NONET --name st -m 256m $IMG sh -c 'head -c 8388608 /dev/zero > /dev/shm/fill
    dd if=/dev/zero of=/io.bin bs=1M count=4 oflag=direct 2>/dev/null
    sleep 600 & sleep 600 & exec sleep 600' || fail "wharf run failed" || return 1
  cg=$(cgroup_of st) || fail "no cgroup for st" || return 1
  wait_for 60 'test "$(cat "$cg/pids.current")" = 3' || fail "pids.current never reached 3: $(cat "$cg/pids.current")" || return 1
  dev=$(awk -v r="$R" '$2 == r { print $1 }' /proc/mounts); devno=$(stat -L -c '%t %T' "$dev")
  majmin="$((0x${devno% *})):$((0x${devno#* }))"
  cpu0=$(kv "$cg/cpu.stat" usage_usec); mem0=$(cat "$cg/memory.current"); wb0=$(wbytes "$cg" "$majmin")
  js=$(w stats --no-stream --format json st) || fail "wharf stats failed: $js" || return 1
  cpu1=$(kv "$cg/cpu.stat" usage_usec); mem1=$(cat "$cg/memory.current")
  echo "$js"
  shmem=$(kv "$cg/memory.stat" shmem); anon=$(kv "$cg/memory.stat" anon)
  wb1=$(wbytes "$cg" "$majmin")
  s_cpu=$(echo "$js" | jnum total_usage); s_mem=$(echo "$js" | jnum usage); s_lim=$(echo "$js" | jnum limit)
  s_shmem=$(echo "$js" | jnum shmem); s_anon=$(echo "$js" | jnum anon); s_pids=$(echo "$js" | jnum current)
  s_wb=$(echo "$js" | grep -o "\"major\":${majmin%:*},\"minor\":${majmin#*:},\"op\":\"write\",\"value\":[0-9]*" | head -n 1 | sed 's/.*://')
  w rm -f st
  note "stats vs cgroup: cpu ${s_cpu}ns in [${cpu0}, ${cpu1}]us (cpu.stat); memory ${s_mem} in [${mem0}, ${mem1}] (memory.current), limit ${s_lim} (memory.max); shmem ${s_shmem}/${shmem}, anon ${s_anon}/${anon} (memory.stat); write ${s_wb} in [${wb0}, ${wb1}] on ${majmin} (io.stat); pids ${s_pids} (pids.current 3)"
  [ -n "$s_cpu" ] && [ $((s_cpu / 1000)) -ge "$cpu0" ] && [ $((s_cpu / 1000)) -le "$cpu1" ] || fail "cpu total_usage $s_cpu ns is not cpu.stat usage_usec ($cpu0..$cpu1 us)" || return 1
  lo=$mem0; hi=$mem1; [ "$lo" -le "$hi" ] || { lo=$mem1; hi=$mem0; }
  [ -n "$s_mem" ] && [ "$s_mem" -ge $((lo - 262144)) ] && [ "$s_mem" -le $((hi + 262144)) ] || fail "memory usage $s_mem is not memory.current ($mem0..$mem1)" || return 1
  [ "$s_mem" -ge 8388608 ] || fail "memory usage $s_mem is below the 8 MiB the container holds" || return 1
  [ "$s_lim" = 268435456 ] || fail "memory limit $s_lim, want 268435456 (memory.max)" || return 1
  [ "$s_shmem" = "$shmem" ] || fail "memory_stats.stats.shmem $s_shmem, memory.stat shmem $shmem" || return 1
  [ "$s_pids" = 3 ] || fail "pids_stats.current $s_pids, want 3 (pids.current)" || return 1
  [ -n "$wb0" ] && [ "$wb0" -ge 4194304 ] || fail "io.stat has no 4 MiB of writes on $majmin: $(cat "$cg/io.stat")" || return 1
  [ -n "$s_wb" ] && [ "$s_wb" -ge "$wb0" ] && [ "$s_wb" -le "$wb1" ] || fail "blkio write bytes on $majmin: stats $s_wb, io.stat $wb0..$wb1"
}

check_rm_no_cgroup() {
  ensure_busy || fail "cannot start the busy container" || return 1
  cg=$(cgroup_of $BUSY) || fail "no cgroup for $BUSY" || return 1
  id=$(inspect $BUSY Id); pid=$(inspect $BUSY State.Pid)
  echo "container $id, cgroup $cg, pid $pid"
  [ "$cg" = "$CG/wharf/$id" ] || fail "cgroup is $cg, want $CG/wharf/$id" || return 1
  w rm -f $BUSY || fail "wharf rm -f failed" || return 1
  [ ! -e "$cg" ] || fail "cgroup $cg still exists after rm" || return 1
  [ ! -e /proc/"$pid" ] || fail "process $pid still exists after rm" || return 1
  # Nothing left from any check: wharf's parent has no child cgroups, no containers remain.
  left=$(find $CG/wharf -mindepth 1 -type d 2>/dev/null)
  [ -z "$left" ] || fail "cgroups left behind: $left" || return 1
  rest=$(wharf ps -aq </dev/null)
  [ -z "$rest" ] || fail "containers left: $rest"
}

# --- runner -------------------------------------------------------------------------

if [ "${1:-}" = one ]; then
  set -u
  CHECK=$2
  # The marker guards against a check that ends early (an `exit 0` somewhere) passing.
  "check_$2" && echo "CHECK-COMPLETED $2"
  exit $?
fi

mkdir -p $R /tmp/vmtest
npass=0
nfail=0
for name in $CHECKS; do
  log=/tmp/vmtest/$name.log
  start=$(date +%s)
  timeout -s KILL "$CHECK_TIMEOUT" sh "$0" one "$name" > "$log" 2>&1 </dev/null
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ -s "/tmp/vmtest/$name.tracked" ]; then
    for c in $(cat "/tmp/vmtest/$name.tracked"); do wharf rm -f "$c" >/dev/null 2>&1 </dev/null; done
  fi
  if [ $rc -eq 0 ] && ! grep -q "^CHECK-COMPLETED $name\$" "$log"; then
    echo "the check ended before its last step" >> "$log"
    rc=1
  fi
  if [ $rc -eq 0 ]; then
    echo "WHARF-VM PASS $name (${secs}s)"
    sed -n "s/^NOTE: /WHARF-VM   | /p" "$log"
    npass=$((npass + 1))
  else
    [ $rc -eq 137 ] && echo "timed out after ${CHECK_TIMEOUT}s" >> "$log"
    echo "WHARF-VM FAIL $name (${secs}s, rc $rc): $(tail -n 1 "$log")"
    tail -n 30 "$log" | sed "s/^/WHARF-VM   | /"
    nfail=$((nfail + 1))
  fi
done
if [ $nfail -gt 0 ]; then
  echo "WHARF-VM kernel log (last lines):"
  dmesg | tail -n 20 | sed "s/^/WHARF-VM   | /"
fi
echo "WHARF-VM DONE passed=$npass failed=$nfail"

# Profiles `ipvsd standalone` inside the kernel lab VM, run by busybox sh:
# a cold start with PROFILE_SERVICES services x PROFILE_BACKENDS backends
# (NAT, no health checks), idle, and a reload that changes one backend's
# weight. CPU profiles are taken in PROFILE_WINDOW-second windows through
# --profile-addr until each phase ends, heap profiles after each phase; all
# go to the console as base64 between "=== pprof NAME begin/end" lines,
# which `lab profile-standalone` writes to files on the host. Figures are
# printed as "figure: NAME VALUE UNIT" lines.
set -e
N=${PROFILE_SERVICES:-10000}
B=${PROFILE_BACKENDS:-10}
W=${PROFILE_WINDOW:-15}
MAXW=${PROFILE_MAX_WINDOWS:-30}
PPROF=http://127.0.0.1:6060/debug/pprof
CONFIG=/tmp/standalone.yaml

now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
figure() { echo "figure: $*"; }
emit() { # emit NAME FILE
	echo "=== pprof $1 begin"
	base64 "$2"
	echo "=== pprof $1 end"
}
# config WEIGHT: the table, service 0's first backend with WEIGHT. One
# service a line in flow style, as an operator's generator would write it.
config() {
	awk -v n="$N" -v b="$B" -v w="$1" 'BEGIN {
		print "interface: ipvs0"
		print "services:"
		for (i = 0; i < n; i++) {
			v = int(i / 10)
			printf "- {name: s%d, vip: 10.96.%d.%d, port: %d, scheduler: rr, backends: [", i, int(v / 250), v % 250 + 1, 8000 + i % 10
			for (j = 0; j < b; j++) {
				weight = (i == 0 && j == 0) ? w : 1
				printf "%s{address: 10.100.%d.%d, weight: %d}", (j ? ", " : ""), j, i % 250 + 1, weight
			}
			print "]}"
		}
	}'
}
# profile_until PHASE CONDITION: CPU windows until CONDITION (a shell
# command) succeeds at the end of one, then a heap profile.
profile_until() {
	k=0
	while :; do
		k=$((k + 1))
		wget -q -O "/tmp/$1-$k.cpu" "$PPROF/profile?seconds=$W"
		emit "$1-cpu-$k" "/tmp/$1-$k.cpu"
		if eval "$2"; then break; fi
		if [ "$k" -ge "$MAXW" ]; then
			echo "phase $1: not done after $k windows of $W s"
			break
		fi
	done
	wget -q -O "/tmp/$1.heap" "$PPROF/heap"
	emit "$1-heap" "/tmp/$1.heap"
}
dests() { ipvsadm -Ln | grep -c '^  ->' || true; }
# vips: the addresses on ipvs0 (one dump of at most a thousand or so, cheap
# enough to poll); the config puts ten services on a VIP.
vips() { /sbin/ip -4 -o addr show dev ipvs0 2>/dev/null | wc -l; }
VIPS=$(((N + 9) / 10))
# mark FILE CONDITION: in the background, write the seconds since start
# of phase ($ts) to FILE once CONDITION (cheap: polled every 0.2 s) holds.
mark() {
	# Written whole and renamed: a reader polling for FILE never sees it
	# empty.
	(until eval "$2"; do sleep 0.2; done; since "$ts" > "$1.tmp"; mv "$1.tmp" "$1") &
}
healthy() { wget -q -O /dev/null http://127.0.0.1:9578/healthz 2>/dev/null; }
weight_is() { ipvsadm -Ln -t "10.96.0.1:8000" | grep -q "10.100.0.1:8000 *Masq *$1 "; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# reload_size N R: start ipvsd on N services, then R one-weight reloads
# (weights 2, 3, ...), each timed from the rename of the new file to the
# weight in the kernel; the CPU of the first is profiled when N is the
# largest size. ipvsd is stopped afterwards, and its state removed unless
# N is the largest size, the last (a cleanup of 10,000 services takes
# minutes).
reload_size() {
	N=$1
	config 1 > "$CONFIG"
	ts=$(now)
	ipvsd standalone --config "$CONFIG" --profile-addr 127.0.0.1:6060 >"/tmp/ipvsd-$N.log" 2>&1 &
	pid=$!
	until healthy; do sleep 0.2; done
	figure "cold_start_$N" "$(since "$ts")" s
	r=1
	while [ "$r" -le "$2" ]; do
		w=$((r + 1))
		config "$w" > "$CONFIG.new"
		rm -f /tmp/reload.done
		ts=$(now)
		mv "$CONFIG.new" "$CONFIG"
		mark /tmp/reload.done "weight_is $w"
		if [ "$r" = 1 ] && [ "$N" = "$LARGEST" ]; then
			profile_until "reload-$N" '[ -f /tmp/reload.done ]'
		else
			until [ -f /tmp/reload.done ]; do sleep 0.1; done
		fi
		figure "reload_to_kernel_${N}_$r" "$(cat /tmp/reload.done)" s
		echo "$(cat /tmp/reload.done)" >> "/tmp/reloads-$N"
		r=$((r + 1))
	done
	# Full resyncs (the first included) in the log: one that overlaps a
	# reload delays it, whatever the reload itself costs.
	figure "full_syncs_$N" "$(grep -c '"full": true' "/tmp/ipvsd-$N.log" || true)" count
	grep -E 'config (reloaded|file changed)|sync finished' "/tmp/ipvsd-$N.log" | tail -n 12
	kill $pid
	wait $pid || true
	if [ "$N" != "$LARGEST" ]; then
		ipvsd cleanup --config "$CONFIG" >/dev/null 2>&1
	fi
}
# median FILE: the median of the numbers in FILE, one a line.
median() { sort -n "$1" | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# PROFILE_MODE=reload: the one-weight reload at each of PROFILE_RELOAD_SIZES
# (default 100 and 10000) in this one VM, PROFILE_RELOADS times each, and
# the ratio of the medians of the largest and the smallest size; no idle
# phase and no ipvsadm -R floor.
if [ "${PROFILE_MODE:-}" = reload ]; then
	SIZES=${PROFILE_RELOAD_SIZES:-100 10000}
	LARGEST=$(for n in $SIZES; do echo "$n"; done | sort -n | tail -n 1)
	SMALLEST=$(for n in $SIZES; do echo "$n"; done | sort -n | head -n 1)
	for n in $(for n in $SIZES; do echo "$n"; done | sort -n); do
		reload_size "$n" "${PROFILE_RELOADS:-3}"
		figure "reload_median_$n" "$(median "/tmp/reloads-$n")" s
	done
	figure reload_ratio "$(awk -v a="$(median "/tmp/reloads-$LARGEST")" -v b="$(median "/tmp/reloads-$SMALLEST")" 'BEGIN{printf "%.2f", a/b}')" "x_${LARGEST}_over_$SMALLEST"
	exit 0
fi

config 1 > "$CONFIG"
figure config_bytes "$(wc -c < "$CONFIG")" bytes
ts=$(now)
t0=$ts
ipvsd standalone --config "$CONFIG" --profile-addr 127.0.0.1:6060 >/tmp/ipvsd.log 2>&1 &
pid=$!
until wget -q -O /dev/null "$PPROF/" 2>/dev/null; do sleep 0.1; done
figure profiler_up "$(since "$t0")" s
mark /tmp/cold.done healthy
# When the first and the last VIP appear: the binding's wall time.
mark /tmp/vips.first '[ "$(vips)" -gt 0 ]'
mark /tmp/vips.done '[ "$(vips)" -ge "$VIPS" ]'
profile_until cold '[ -f /tmp/cold.done ]'
figure cold_start "$(cat /tmp/cold.done)" s
figure vip_bind_first "$(cat /tmp/vips.first)" s
figure vip_bind_all "$(cat /tmp/vips.done)" s
figure vip_bind_wall "$(awk -v a="$(cat /tmp/vips.first)" -v b="$(cat /tmp/vips.done)" 'BEGIN{printf "%.2f", b-a}')" s
figure real_servers "$(dests)" count
figure peak_rss_after_cold "$(awk '/VmHWM/{print $2}' /proc/$pid/status)" KiB

c0=$(cpu_ticks $pid)
profile_until idle true
figure idle_cpu_ticks_per_window "$(( $(cpu_ticks $pid) - c0 ))" ticks_of_10ms

config 7 > "$CONFIG.new"
ts=$(now)
mv "$CONFIG.new" "$CONFIG"
mark /tmp/reload.done 'weight_is 7'
profile_until reload '[ -f /tmp/reload.done ]'
figure reload_to_kernel "$(cat /tmp/reload.done)" s
figure peak_rss "$(awk '/VmHWM/{print $2}' /proc/$pid/status)" KiB

kill $pid
wait $pid || true
tail -n 30 /tmp/ipvsd.log
# The floor: the same table restored by ipvsadm.
ipvsadm -Sn > /tmp/table
ipvsadm -C
t2=$(now)
ipvsadm -R < /tmp/table
figure ipvsadm_restore "$(since "$t2")" s

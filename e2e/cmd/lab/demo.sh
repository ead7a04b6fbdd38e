# The built-in demo, run by busybox sh inside the kernel lab VM (the host
# kernel has no IPVS): `ipvsd standalone` with examples/standalone.yaml
# (shipped to /etc/ipvsd/standalone.yaml). Two backends and a sorry server
# serve HTTP with busybox httpd in their own network namespaces; a client
# namespace reaches them through the VIP. Then a backend is stopped, and the
# health check takes it out and brings it back.
set -e
IP=/sbin/ip
CONFIG=/etc/ipvsd/standalone.yaml

peer() { # peer NAME NS_ADDR HOST_ADDR
	$IP netns add "$1"
	$IP link add "v$1" type veth peer name eth0 netns "$1"
	$IP addr add "$3/24" dev "v$1"
	$IP link set "v$1" up
	$IP -n "$1" addr add "$2/24" dev eth0
	$IP -n "$1" link set lo up
	$IP -n "$1" link set eth0 up
	$IP -n "$1" route add default via "$3"
}
# backend NAME: busybox httpd on :8080 with / and /healthz.
backend() {
	$IP netns exec "$1" busybox httpd -p 8080 -h "/www/$1"
}
stop_backend() {
	# busybox httpd daemonises; find it by the document root it serves.
	for p in $(ps | grep "httpd -p 8080 -h /www/$1" | grep -v grep | awk '{print $1}'); do kill "$p"; done
}
peer client 10.200.0.2 10.200.0.1
for be in be1:10.100.1 be2:10.100.2 sorry:10.100.9; do
	name=${be%%:*} net=${be#*:}
	peer "$name" "$net.2" "$net.1"
	mkdir -p "/www/$name"
	echo "hello from $name ($net.2)" >"/www/$name/index.html"
	echo ok >"/www/$name/healthz"
	backend "$name"
done

table() {
	echo
	echo "### ipvsadm -Ln ($1)"
	ipvsadm -Ln
}
requests() {
	echo
	echo "### $1 HTTP requests from the client namespace to http://192.0.2.10/"
	n=0
	while [ $n -lt "$1" ]; do
		printf "GET / HTTP/1.0\r\n\r\n" | $IP netns exec client busybox nc 192.0.2.10 80 | tail -n 1
		n=$((n + 1))
	done | sort | uniq -c
}
uptime_cs() { # hundredths of a second since boot
	read -r up _ </proc/uptime
	echo "${up%.*}${up#*.}"
}
wait_for() { # wait_for PATTERN [SERVICE]: until ipvsadm -Ln (for the TCP SERVICE) shows it (20 s at most)
	start=$(uptime_cs)
	until ipvsadm -Ln ${2:+-t "$2"} | grep -q "$1"; do
		[ $(($(uptime_cs) - start)) -gt 2000 ] && { echo "timed out waiting for: $1"; ipvsadm -Ln; exit 1; }
		sleep 0.1
	done
	t=$(($(uptime_cs) - start))
	echo "(after $((t / 100)).$((t % 100 / 10)) s)"
}

echo "### $CONFIG"
grep -v '^ *#' "$CONFIG" | grep -v '^$'
echo
echo "### ipvsd standalone --config $CONFIG --check"
ipvsd standalone --config "$CONFIG" --check

echo
echo "### ipvsd standalone --config $CONFIG  (log below, prefixed with |)"
ipvsd standalone --config "$CONFIG" 2>&1 | sed 's/^/| /' &
wait_for "10.100.2.2:8080 *Masq *1"
table "the example applied"
requests 8

echo
echo "### stopping backend be1: the health check fails 3 times (interval 1s) and quiesces it"
stop_backend be1
wait_for "10.100.1.2:8080 *Masq *0 "
table "be1 quiesced in web (weight 0); sticky keeps both: below its quorum of 2 it holds its last healthy set"
requests 4

echo
echo "### stopping be2 as well: the sorry server takes the traffic"
stop_backend be2
wait_for "10.100.9.2:8080"
table "every backend down"
requests 2

echo
echo "### starting both again: 2 good checks in a row bring them back"
backend be1
backend be2
wait_for "10.100.1.2:8080 *Masq *3 " 192.0.2.10:80
wait_for "10.100.2.2:8080 *Masq *1 " 192.0.2.10:80
table "restored"
requests 4

echo
echo "### metrics (curl http://127.0.0.1:9578/metrics), health checks and transitions"
printf "GET /metrics HTTP/1.0\r\n\r\n" | busybox nc 127.0.0.1 9578 | grep -E '^ipvsd_(healthcheck_transitions_total|backend_up|virtual_server_connections_total)'

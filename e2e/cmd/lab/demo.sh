# The built-in demo, run by busybox sh inside the kernel lab VM (the host
# kernel has no IPVS). Two backends in their own network namespaces serve
# HTTP with busybox httpd; a client namespace reaches them through an IPVS
# round-robin NAT virtual service on a VIP bound to a dummy interface.
set -e
IP=/sbin/ip
echo 1 >/proc/sys/net/ipv4/ip_forward
echo 1 >/proc/sys/net/ipv4/vs/conntrack

$IP link add ipvs0 type dummy
$IP addr add 10.96.0.10/32 dev ipvs0
$IP link set ipvs0 up

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
peer client 10.200.0.2 10.200.0.1
for i in 1 2; do
	peer "be$i" "10.100.$i.2" "10.100.$i.1"
	mkdir -p "/www/be$i"
	echo "hello from backend be$i (10.100.$i.2)" >"/www/be$i/index.html"
	$IP netns exec "be$i" busybox httpd -p 8080 -h "/www/be$i"
done

echo
echo "### ipvsadm -A -t 10.96.0.10:80 -s rr, two NAT real servers"
ipvsadm -A -t 10.96.0.10:80 -s rr
ipvsadm -a -t 10.96.0.10:80 -r 10.100.1.2:8080 -m
ipvsadm -a -t 10.96.0.10:80 -r 10.100.2.2:8080 -m
sleep 1

echo
echo "### six HTTP requests from the client namespace to http://10.96.0.10/"
for n in 1 2 3 4 5 6; do
	printf "GET / HTTP/1.0\r\n\r\n" | $IP netns exec client busybox nc 10.96.0.10 80 | tail -n 1
done

echo
echo "### ipvsadm -Ln"
ipvsadm -Ln
echo
# The kernel folds its per-CPU counters into these totals every 2 s.
sleep 2.5
echo "### ipvsadm -Ln --stats"
ipvsadm -Ln --stats

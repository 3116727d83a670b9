#!/bin/sh
# Records the IPVS generic-netlink traffic of the real ipvsadm 1.31 on the
# lab kernel; run inside the lab:  cargo run -p netlab -- run -- sh testdata/ipvs/capture.sh > cap.pcap
# ipvsadm opens a new netlink socket for every command, so the sender's port
# id tells the commands apart (see testdata/ipvs/README.md).
set -e
modprobe ip_vs
modprobe nlmon
ip link add nlmon0 type nlmon
ip link set nlmon0 up
tcpdump -q -i nlmon0 -w /tmp/cap.pcap -U 2>/dev/null &
tcpdump_pid=$!
sleep 1
run() { "$@" >/dev/null 2>&1 || true; sleep 0.2; }
run ipvsadm -A -t 192.0.2.1:80 -s rr
run ipvsadm -A -u [2001:db8::1]:53 -s wlc -p 60 -M 64
run ipvsadm -A -f 7 -s sh -b sh-port,sh-fallback
run ipvsadm -A -t 192.0.2.2:443 -s wrr -p 300 -M 255.255.255.0
run ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.1:8080 -m -w 3 -x 100 -y 10
run ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-type gue --tun-port 6080 --tun-remcsum
run ipvsadm -e -t 192.0.2.1:80 -r 198.51.100.1:8080 -g -w 0
run ipvsadm -L -n
run ipvsadm -d -t 192.0.2.1:80 -r 198.51.100.2
run ipvsadm -D -f 7
run ipvsadm --set 1000 0 30
run ipvsadm -L --timeout
run ipvsadm --start-daemon master --mcast-interface lo --syncid 9
run ipvsadm -L --daemon
run ipvsadm -Z
run ipvsadm -C
sleep 1
kill $tcpdump_pid
wait $tcpdump_pid 2>/dev/null || true
cat /tmp/cap.pcap

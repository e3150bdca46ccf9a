package flow

import (
	"strings"
	"testing"
	"time"
)

// TestConntrackRecords covers `conntrack -E -o timestamp,extended` event
// text. The line layout mirrors conntrack-tools src/conntrack.c (event_cb:
// "[%-.8ld.%-.6ld]\t") and libnetfilter_conntrack
// src/conntrack/snprintf_default.c (__snprintf_conntrack_default: "%9s "
// event type, "%-8s %u " protocols, tuples, counters, flags).
func TestConntrackRecords(t *testing.T) {
	runDecodeCases(t, FormatConntrack, []decodeCase{{
		name: "NEW held until DESTROY: start time from NEW, counters from DESTROY; DNAT to the backend",
		in: "[1700000000.123456]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.96.0.20 sport=43210 dport=80 [UNREPLIED] src=10.244.2.9 dst=10.244.1.5 sport=8080 dport=43210\n" +
			"[1700000000.124001]\t [UPDATE] ipv4     2 tcp      6 60 SYN_RECV src=10.244.1.5 dst=10.96.0.20 sport=43210 dport=80 src=10.244.2.9 dst=10.244.1.5 sport=8080 dport=43210\n" +
			"[1700000000.124502]\t [UPDATE] ipv4     2 tcp      6 432000 ESTABLISHED src=10.244.1.5 dst=10.96.0.20 sport=43210 dport=80 src=10.244.2.9 dst=10.244.1.5 sport=8080 dport=43210 [ASSURED]\n" +
			"[1700000125.000001]\t[DESTROY] ipv4     2 tcp      6 src=10.244.1.5 dst=10.96.0.20 sport=43210 dport=80 packets=6 bytes=512 src=10.244.2.9 dst=10.244.1.5 sport=8080 dport=43210 packets=4 bytes=3100 [ASSURED] mark=0 delta-time=125 use=1\n",
		want:    []string{"2023-11-14T22:13:20.123456000Z TCP 10.244.1.5:43210 -> 10.244.2.9:8080 FORWARDED pkts=6 bytes=512"},
		skipped: 3, // two UPDATEs, the DESTROY merged into its NEW
	}, {
		name: "UDP DNS: replied via UPDATE; accounting off; delivered at end of input",
		in: "[1700000000.000001]\t    [NEW] ipv4     2 udp      17 30 src=10.244.1.5 dst=10.96.0.10 sport=53000 dport=53 [UNREPLIED] src=10.244.0.3 dst=10.244.1.5 sport=53 dport=53000\n" +
			"[1700000000.000900]\t [UPDATE] ipv4     2 udp      17 30 src=10.244.1.5 dst=10.96.0.10 sport=53000 dport=53 src=10.244.0.3 dst=10.244.1.5 sport=53 dport=53000\n",
		want:    []string{"2023-11-14T22:13:20.000001000Z UDP 10.244.1.5:53000 -> 10.244.0.3:53 FORWARDED pkts=1 bytes=0"},
		skipped: 1,
	}, {
		name: "never answered: verdict unknown; SNAT leaves the source alone",
		in: "[1700000000.5]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.5 dst=203.0.113.7 sport=43000 dport=443 [UNREPLIED] src=203.0.113.7 dst=192.0.2.10 sport=443 dport=61000\n" +
			"[1700000120.5]\t[DESTROY] ipv4     2 tcp      6 src=10.244.1.5 dst=203.0.113.7 sport=43000 dport=443 [UNREPLIED] src=203.0.113.7 dst=192.0.2.10 sport=443 dport=61000 mark=0 use=1\n",
		want:    []string{"2023-11-14T22:13:20.500000000Z TCP 10.244.1.5:43000 -> 203.0.113.7:443 UNKNOWN pkts=1 bytes=0"},
		skipped: 1,
	}, {
		name: "IPv6, ICMP, SCTP; output without -o extended; kernel timestamps and userspace suffix ignored",
		in: "[1700000000.000001]\t    [NEW] ipv6     10 tcp      6 120 SYN_SENT src=fd00::1 dst=fd00::2 sport=40000 dport=8443 [UNREPLIED] src=fd00::2 dst=fd00::1 sport=8443 dport=40000\n" +
			"[1700000000.000002]\t    [NEW] icmp     1 30 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=4242 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=4242\n" +
			"[1700000000.000003]\t    [NEW] ipv4     2 sctp     132 3 CLOSED src=10.0.0.1 dst=10.0.0.3 sport=40000 dport=3868 [UNREPLIED] src=10.0.0.3 dst=10.0.0.1 sport=3868 dport=40000 zone=3\n" +
			"[1700000001.000000]\t[DESTROY] ipv4     2 icmp     1 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=4242 packets=1 bytes=84 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=4242 packets=1 bytes=84 mark=0 delta-time=1 [start=Tue Nov 14 22:13:20 2023] [stop=Tue Nov 14 22:13:21 2023] use=1 [USERSPACE] portid=123 progname=conntrack\n",
		want: []string{
			"2023-11-14T22:13:20.000002000Z ICMP 10.0.0.1 -> 10.0.0.2 FORWARDED pkts=1 bytes=84",
			"2023-11-14T22:13:20.000001000Z TCP [fd00::1]:40000 -> [fd00::2]:8443 UNKNOWN pkts=1 bytes=0",
			"2023-11-14T22:13:20.000003000Z SCTP 10.0.0.1:40000 -> 10.0.0.3:3868 UNKNOWN pkts=1 bytes=0",
		},
		skipped: 1,
	}, {
		name: "DESTROY of a connection opened before the capture: start from delta-time",
		in:   "[1700000300.000000]\t[DESTROY] ipv4     2 tcp      6 src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=5432 packets=100 bytes=9000 src=10.0.0.2 dst=10.0.0.1 sport=5432 dport=40000 packets=90 bytes=100000 [ASSURED] mark=0 delta-time=300 use=1\n",
		want: []string{"2023-11-14T22:13:20.000000000Z TCP 10.0.0.1:40000 -> 10.0.0.2:5432 FORWARDED pkts=100 bytes=9000"},
	}, {
		name: "hold time exceeded: the connection is delivered without counters, its DESTROY later as a second record",
		opts: Options{ConntrackHold: time.Minute},
		in: "[1700000000.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=5432 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=5432 dport=40000\n" +
			"[1700000061.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=40001 dport=5432 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=5432 dport=40001\n" +
			"[1700000300.000000]\t[DESTROY] ipv4     2 tcp      6 src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=5432 packets=100 bytes=9000 src=10.0.0.2 dst=10.0.0.1 sport=5432 dport=40000 packets=90 bytes=100000 [ASSURED] mark=0 delta-time=300 use=1\n" +
			"conntrack v1.4.8 (conntrack-tools): 3 flow events have been shown.\n",
		want: []string{
			"2023-11-14T22:13:20.000000000Z TCP 10.0.0.1:40000 -> 10.0.0.2:5432 UNKNOWN pkts=1 bytes=0",
			"2023-11-14T22:14:21.000000000Z TCP 10.0.0.1:40001 -> 10.0.0.2:5432 UNKNOWN pkts=1 bytes=0",
			"2023-11-14T22:13:20.000000000Z TCP 10.0.0.1:40000 -> 10.0.0.2:5432 FORWARDED pkts=100 bytes=9000",
		},
		skipped: 1,
	}})
}

// TestConntrackAcrossFiles checks that DecodeFiles keeps a connection held
// from one file (a rotated capture) to the next.
func TestConntrackAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.log", "[1700000000.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000\n")
	b := writeFile(t, dir, "b.log", "[1700000010.000000]\t[DESTROY] ipv4     2 tcp      6 src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 packets=5 bytes=400 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 packets=4 bytes=900 [ASSURED] use=1\n")
	d := NewDecoder(Options{})
	var got []string
	if err := d.DecodeFiles([]string{a, b}, collect(&got)); err != nil {
		t.Fatal(err)
	}
	want := "2023-11-14T22:13:20.000000000Z TCP 10.0.0.1:40000 -> 10.0.0.2:80 FORWARDED pkts=5 bytes=400"
	if strings.Join(got, "\n") != want {
		t.Errorf("got %q, want %q", got, want)
	}
	checkInvariant(t, d.Stats())
}

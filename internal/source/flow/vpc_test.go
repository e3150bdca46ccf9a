package flow

import "testing"

// TestVPCRecords covers AWS VPC flow log records. Layouts and field
// semantics mirror the AWS VPC user guide, "Flow log records" and its
// examples (flow-log-records.html, flow-logs-records-examples.html).
func TestVPCRecords(t *testing.T) {
	const hdr = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
	runDecodeCases(t, FormatVPC, []decodeCase{{
		name: "default format with header: accepted SSH, rejected RDP",
		in: hdr +
			"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n" +
			"2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK\n",
		want: []string{
			"2014-12-14T04:06:50.000000000Z TCP 172.31.16.139:20641 -> 172.31.16.21:22 FORWARDED pkts=20 bytes=4249",
			"2014-12-14T04:06:50.000000000Z TCP 172.31.9.69:49761 -> 172.31.9.12:3389 DROPPED pkts=20 bytes=4249",
		},
		skipped: 1, // the header
	}, {
		name: "no header; NODATA and SKIPDATA skipped",
		in: "2 123456789010 eni-1235b8ca123456789 10.0.1.5 10.0.2.7 45000 443 6 10 840 1700000000 1700000060 ACCEPT OK\n" +
			"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\n" +
			"2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA\n",
		want:    []string{"2023-11-14T22:13:20.000000000Z TCP 10.0.1.5:45000 -> 10.0.2.7:443 FORWARDED pkts=10 bytes=840"},
		skipped: 2,
	}, {
		name: "replies by port heuristic, both directions logged",
		in: "2 1 eni-a 10.0.1.5 10.0.2.7 45000 443 6 10 840 1700000000 1700000060 ACCEPT OK\n" +
			"2 1 eni-a 10.0.2.7 10.0.1.5 443 45000 6 8 6400 1700000000 1700000060 ACCEPT OK\n" +
			"2 1 eni-a 10.0.2.7 10.0.1.5 8080 50123 6 8 6400 1700000000 1700000060 ACCEPT OK\n" +
			"2 1 eni-a 10.0.1.5 10.0.2.7 50123 50051 6 3 300 1700000000 1700000060 ACCEPT OK\n" +
			"2 1 eni-a 10.0.1.9 10.0.2.7 51000 30080 6 3 300 1700000000 1700000060 ACCEPT OK\n",
		want: []string{
			"2023-11-14T22:13:20.000000000Z TCP 10.0.1.5:45000 -> 10.0.2.7:443 FORWARDED pkts=10 bytes=840",
			"2023-11-14T22:13:20.000000000Z TCP 10.0.1.5:50123 -> 10.0.2.7:50051 FORWARDED pkts=3 bytes=300",
			"2023-11-14T22:13:20.000000000Z TCP 10.0.1.9:51000 -> 10.0.2.7:30080 FORWARDED pkts=3 bytes=300",
		},
		replies: 2,
	}, {
		name: "the same flow logged by both ENIs counts once",
		in: "2 1 eni-src 10.0.1.5 10.0.2.7 45000 443 6 10 840 1700000000 1700000060 ACCEPT OK\n" +
			"2 1 eni-dst 10.0.1.5 10.0.2.7 45000 443 6 10 840 1700000001 1700000061 ACCEPT OK\n",
		want:       []string{"2023-11-14T22:13:20.000000000Z TCP 10.0.1.5:45000 -> 10.0.2.7:443 FORWARDED pkts=10 bytes=840"},
		duplicates: 1,
	}, {
		name: "IPv6, UDP DNS and ICMP",
		in: "2 1 eni-a 2001:db8::1 2001:db8::2 40000 53 17 1 70 1700000000 1700000060 ACCEPT OK\n" +
			"2 1 eni-a 2001:db8::2 2001:db8::1 53 40000 17 1 120 1700000000 1700000060 ACCEPT OK\n" +
			"2 1 eni-a 10.0.0.1 10.0.0.2 0 0 1 4 336 1700000000 1700000060 ACCEPT OK\n",
		want: []string{
			"2023-11-14T22:13:20.000000000Z UDP [2001:db8::1]:40000 -> [2001:db8::2]:53 FORWARDED pkts=1 bytes=70",
			"2023-11-14T22:13:20.000000000Z ICMP 10.0.0.1 -> 10.0.0.2 FORWARDED pkts=4 bytes=336",
		},
		replies: 1,
	}, {
		name: "custom format: pkt addresses preferred (EKS pod behind node ENI), tcp-flags decide direction",
		in: "version interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr srcport dstport protocol packets bytes start end action tcp-flags log-status\n" +
			"5 eni-a 10.0.1.10 10.0.2.7 10.0.1.55 10.0.2.7 8080 45000 6 10 840 1700000000 1700000060 ACCEPT 2 OK\n" +
			"5 eni-a 10.0.2.7 10.0.1.10 10.0.2.7 10.0.1.55 45000 8080 6 10 840 1700000000 1700000060 ACCEPT 18 OK\n" +
			"5 eni-a 10.0.1.10 10.0.2.9 - - 40000 443 6 10 840 1700000000 1700000060 ACCEPT 19 OK\n",
		want: []string{
			"2023-11-14T22:13:20.000000000Z TCP 10.0.1.55:8080 -> 10.0.2.7:45000 FORWARDED pkts=10 bytes=840",
		},
		replies: 2,
		skipped: 1,
	}})
}

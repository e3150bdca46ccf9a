package flow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHubbleGolden decodes the real Hubble captures in shared/fixtures and
// compares one summary line per delivered flow with testdata/*.golden.
//
// The expected counts were computed independently of this package (a short
// Python script over the fixtures applying the documented rules: skip L7 /
// no-IP / no-L4 records; is_reply, then reply, then TCP SYN, then the port
// heuristic; same 5-tuple and verdict within 2 s is a duplicate).
func TestHubbleGolden(t *testing.T) {
	for _, tc := range []struct {
		file                                             string
		delivered, replies, duplicates, skipped, records int64
	}{
		// 5 request/reply pairs, replies marked with the deprecated field only.
		{file: "basic-sample-10-flows.json", delivered: 5, replies: 5, records: 10},
		// L7 HTTP records skipped; policy-verdict + trace + overlay records
		// of one packet folded into one flow.
		{file: "basic-sample-400-tcp-flows.json", delivered: 58, replies: 104, duplicates: 173, skipped: 65, records: 400},
		// UDP DNS to kube-dns: L7 DNS records skipped, answers are replies.
		{file: "basic-sample-400-udp-flows.json", delivered: 111, replies: 74, duplicates: 67, skipped: 148, records: 400},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(fixtureDir, "hubble", tc.file))
			if err != nil {
				t.Fatalf("fixture missing: %v", err)
			}
			out, st, err := decodeAll(t, Options{}, tc.file, in)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariant(t, st)
			if st.Rejected != 0 {
				t.Errorf("rejected %d records: %v", st.Rejected, st.Errors)
			}
			if st.Records != tc.records || st.Delivered != tc.delivered || st.Replies != tc.replies ||
				st.Duplicates != tc.duplicates || st.Skipped != tc.skipped {
				t.Errorf("got %s\nwant records=%d delivered=%d replies=%d duplicates=%d skipped=%d",
					statsLine(st), tc.records, tc.delivered, tc.replies, tc.duplicates, tc.skipped)
			}
			if int64(len(out)) != st.Delivered {
				t.Errorf("callback saw %d flows, Stats.Delivered = %d", len(out), st.Delivered)
			}
			got := strings.Join(append(out, statsLine(st)), "\n") + "\n"
			golden(t, strings.TrimSuffix(tc.file, ".json")+".golden", []byte(got))
		})
	}
}

// hubbleCase is one table row: input lines, the summaries delivered and
// the counts of replies, duplicates and skipped records.
type decodeCase struct {
	name                         string
	opts                         Options
	in                           string
	want                         []string
	replies, duplicates, skipped int64
}

func runDecodeCases(t *testing.T, format Format, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Format = format
			out, st, err := decodeAll(t, opts, "in", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if st.Rejected != 0 {
				t.Fatalf("rejected: %v", st.Errors)
			}
			checkInvariant(t, st)
			if strings.Join(out, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("delivered:\n%s\nwant:\n%s", strings.Join(out, "\n"), strings.Join(tc.want, "\n"))
			}
			if st.Replies != tc.replies || st.Duplicates != tc.duplicates || st.Skipped != tc.skipped {
				t.Errorf("got %s, want replies=%d duplicates=%d skipped=%d", statsLine(st), tc.replies, tc.duplicates, tc.skipped)
			}
		})
	}
}

// TestHubbleRecords covers the record shapes of cilium/cilium
// api/v1/flow/flow.proto the fixtures lack. Field names and enum values
// mirror that file; reply handling mirrors its is_reply / reply comments.
func TestHubbleRecords(t *testing.T) {
	const t0 = `"time":"2024-03-01T10:00:00.5Z"`
	runDecodeCases(t, FormatHubble, []decodeCase{{
		name: "IPv6 TCP SYN in camelCase protojson, bare flow",
		in: `{` + t0 + `,"verdict":"FORWARDED","IP":{"source":"fd00::1","destination":"fd00::2","ipVersion":"IPv6"},` +
			`"l4":{"TCP":{"sourcePort":40000,"destinationPort":8443,"flags":{"SYN":true}}},` +
			`"source":{"namespace":"shop","podName":"web-1","labels":["k8s:app=web"]},"destination":{"namespace":"shop","podName":"api-1"},` +
			`"Type":"L3_L4","nodeName":"node-a"}`,
		want: []string{"2024-03-01T10:00:00.500000000Z TCP [fd00::1]:40000 -> [fd00::2]:8443 FORWARDED pkts=1 bytes=0 node=node-a src{ns=shop pod=web-1 labels=app=web} dst{ns=shop pod=api-1}"},
	}, {
		name: "SYN-ACK without is_reply is a reply",
		in: `{"flow":{` + t0 + `,"verdict":"FORWARDED","IP":{"source":"10.0.0.2","destination":"10.0.0.1"},` +
			`"l4":{"TCP":{"source_port":8443,"destination_port":40000,"flags":{"SYN":true,"ACK":true}}}}}`,
		replies: 1,
	}, {
		name: "is_reply wins over flags and ports",
		in: `{"flow":{` + t0 + `,"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":40000,"destination_port":80,"flags":{"SYN":true}}},"is_reply":true}}` + "\n" +
			`{"flow":{` + t0 + `,"IP":{"source":"10.0.0.2","destination":"10.0.0.1"},"l4":{"TCP":{"source_port":80,"destination_port":40000,"flags":{"ACK":true}}},"is_reply":false}}`,
		want:    []string{"2024-03-01T10:00:00.500000000Z TCP 10.0.0.2:80 -> 10.0.0.1:40000 UNKNOWN pkts=1 bytes=0"},
		replies: 1,
	}, {
		name: "plain ACK without reply information falls back to ports",
		in: `{"flow":{` + t0 + `,"IP":{"source":"10.0.0.2","destination":"10.0.0.1"},"l4":{"TCP":{"source_port":80,"destination_port":40000,"flags":{"ACK":true}}}}}` + "\n" +
			`{"flow":{` + t0 + `,"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":40000,"destination_port":80,"flags":{"ACK":true}}}}}`,
		want:    []string{"2024-03-01T10:00:00.500000000Z TCP 10.0.0.1:40000 -> 10.0.0.2:80 UNKNOWN pkts=1 bytes=0"},
		replies: 1,
	}, {
		name: "UDP DNS query with names; answer is a reply",
		in: `{"flow":{` + t0 + `,"verdict":"FORWARDED","IP":{"source":"10.0.0.5","destination":"10.96.0.10"},"l4":{"UDP":{"source_port":53000,"destination_port":53}},` +
			`"destination_names":["kube-dns.kube-system.svc.cluster.local"],"is_reply":false},"node_name":"n1","time":"2024-03-01T10:00:01Z"}` + "\n" +
			`{"flow":{` + t0 + `,"verdict":"FORWARDED","IP":{"source":"10.96.0.10","destination":"10.0.0.5"},"l4":{"UDP":{"source_port":53,"destination_port":53000}},"is_reply":true},"node_name":"n1"}`,
		want:    []string{"2024-03-01T10:00:00.500000000Z UDP 10.0.0.5:53000 -> 10.96.0.10:53 FORWARDED pkts=1 bytes=0 node=n1 dst{names=kube-dns.kube-system.svc.cluster.local}"},
		replies: 1,
	}, {
		name: "SCTP, dropped with numeric verdict, top-level time and node used when the flow has none",
		in:   `{"flow":{"verdict":2,"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"SCTP":{"source_port":40000,"destination_port":3868}},"drop_reason_desc":"POLICY_DENIED"},"node_name":"n2","time":"2024-03-01T10:00:02Z"}`,
		want: []string{"2024-03-01T10:00:02.000000000Z SCTP 10.0.0.1:40000 -> 10.0.0.2:3868 DROPPED pkts=1 bytes=0 node=n2"},
	}, {
		name: "ICMP echo request delivered, echo reply skipped, ICMPv6 echo reply skipped",
		in: `{"flow":{` + t0 + `,"verdict":"AUDIT","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"ICMPv4":{"type":8}}}}` + "\n" +
			`{"flow":{` + t0 + `,"IP":{"source":"10.0.0.2","destination":"10.0.0.1"},"l4":{"ICMPv4":{}}}}` + "\n" +
			`{"flow":{` + t0 + `,"IP":{"source":"fd00::2","destination":"fd00::1"},"l4":{"ICMPv6":{"type":129}}}}`,
		want:    []string{"2024-03-01T10:00:00.500000000Z ICMP 10.0.0.1 -> 10.0.0.2 FORWARDED pkts=1 bytes=0"},
		replies: 2,
	}, {
		name: "L7, SOCK, lost events, node status, no IP and no L4 are skipped",
		in: `{"flow":{` + t0 + `,"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":40000,"destination_port":80}},"Type":"L7","l7":{"type":"REQUEST","http":{"method":"GET"}}}}` + "\n" +
			`{"flow":{` + t0 + `,"IP":{"source":"10.0.0.1","destination":"10.96.0.1"},"l4":{"TCP":{"source_port":40000,"destination_port":443}},"Type":"SOCK"}}` + "\n" +
			`{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":3},"time":"2024-03-01T10:00:00Z"}` + "\n" +
			`{"node_status":{"state_change":"NODE_CONNECTED","node_names":["n1"]}}` + "\n" +
			`{"flow":{` + t0 + `,"ethernet":{"source":"aa:bb:cc:dd:ee:ff"},"Type":"L3_L4"}}` + "\n" +
			`{"flow":{` + t0 + `,"IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv4"}}}`,
		skipped: 6,
	}, {
		name: "same flow seen on source and destination node counts once; the drop is kept",
		in: `{"flow":{"time":"2024-03-01T10:00:00.100Z","verdict":"FORWARDED","IP":{"source":"10.0.1.5","destination":"10.0.2.7"},"l4":{"TCP":{"source_port":41000,"destination_port":80,"flags":{"SYN":true}}},"node_name":"n1","traffic_direction":"EGRESS"}}` + "\n" +
			`{"flow":{"time":"2024-03-01T10:00:00.101Z","verdict":"FORWARDED","IP":{"source":"10.0.1.5","destination":"10.0.2.7"},"l4":{"TCP":{"source_port":41000,"destination_port":80,"flags":{"SYN":true}}},"node_name":"n2","traffic_direction":"INGRESS"}}` + "\n" +
			`{"flow":{"time":"2024-03-01T10:00:00.102Z","verdict":"DROPPED","IP":{"source":"10.0.1.5","destination":"10.0.2.7"},"l4":{"TCP":{"source_port":41000,"destination_port":80,"flags":{"SYN":true}}},"node_name":"n2"}}` + "\n" +
			`{"flow":{"time":"2024-03-01T10:00:05Z","verdict":"FORWARDED","IP":{"source":"10.0.1.5","destination":"10.0.2.7"},"l4":{"TCP":{"source_port":41000,"destination_port":80,"flags":{"SYN":true}}},"node_name":"n1"}}`,
		want: []string{
			"2024-03-01T10:00:00.100000000Z TCP 10.0.1.5:41000 -> 10.0.2.7:80 FORWARDED pkts=1 bytes=0 node=n1",
			"2024-03-01T10:00:00.102000000Z TCP 10.0.1.5:41000 -> 10.0.2.7:80 DROPPED pkts=1 bytes=0 node=n2",
			"2024-03-01T10:00:05.000000000Z TCP 10.0.1.5:41000 -> 10.0.2.7:80 FORWARDED pkts=1 bytes=0 node=n1",
		},
		duplicates: 1,
	}, {
		name: "dedup disabled",
		opts: Options{DedupWindow: -1},
		in: `{"flow":{` + t0 + `,"IP":{"source":"10.0.1.5","destination":"10.0.2.7"},"l4":{"UDP":{"source_port":41000,"destination_port":53}}}}` + "\n" +
			`{"flow":{` + t0 + `,"IP":{"source":"10.0.1.5","destination":"10.0.2.7"},"l4":{"UDP":{"source_port":41000,"destination_port":53}}}}`,
		want: []string{
			"2024-03-01T10:00:00.500000000Z UDP 10.0.1.5:41000 -> 10.0.2.7:53 UNKNOWN pkts=1 bytes=0",
			"2024-03-01T10:00:00.500000000Z UDP 10.0.1.5:41000 -> 10.0.2.7:53 UNKNOWN pkts=1 bytes=0",
		},
	}, {
		name: "labels: k8s prefix dropped, Cilium-derived and non-k8s sources dropped, reserved kept; escapes and mapped addresses",
		in: `{"flow":{` + t0 + `,"IP":{"source":"::ffff:10.0.0.1","destination":"1.1.1.1"},"l4":{"TCP":{"source_port":40000,"destination_port":443}},` +
			`"source":{"namespace":"a\u0062c","pod_name":"p\"1","labels":["k8s:app=web","k8s:io.cilium.k8s.policy.serviceaccount=web","k8s:io.kubernetes.pod.namespace=abc","container:foo=bar","plain=label"]},` +
			`"destination":{"identity":2,"labels":["reserved:world","cidr:1.1.1.1/32","fqdn:one.one.one.one"]},"destination_names":["one.one.one.one"]}}`,
		want: []string{`2024-03-01T10:00:00.500000000Z TCP 10.0.0.1:40000 -> 1.1.1.1:443 UNKNOWN pkts=1 bytes=0 src{ns=abc pod=p"1 labels=app=web,plain=label} dst{labels=reserved:world names=one.one.one.one}`},
	}})
}

package flow

import "testing"

// TestGenericRecords covers the generic JSON-lines format as
// docs/formats/flows.md specifies it.
func TestGenericRecords(t *testing.T) {
	runDecodeCases(t, FormatGeneric, []decodeCase{{
		name: "all fields",
		in: `{"time":"2024-05-01T12:00:00Z","src_ip":"10.0.0.1","src_port":43210,"dst_ip":"10.0.0.2","dst_port":80,"protocol":"TCP","bytes":1200,"packets":8,"verdict":"FORWARDED",` +
			`"src_namespace":"shop","src_pod":"web-1","dst_namespace":"shop","dst_pod":"api-1","dst_name":"api.shop.svc.cluster.local","node":"node-a","src_labels":["app=web"],"dst_labels":["app=api","tier=backend"]}`,
		want: []string{"2024-05-01T12:00:00.000000000Z TCP 10.0.0.1:43210 -> 10.0.0.2:80 FORWARDED pkts=8 bytes=1200 node=node-a src{ns=shop pod=web-1 labels=app=web} dst{ns=shop pod=api-1 labels=app=api,tier=backend names=api.shop.svc.cluster.local}"},
	}, {
		name: "IPv6, UDP DNS, lower-case names, quoted counters, unknown members ignored",
		in:   `{"time":"2024-05-01T12:00:00.25+02:00","src_ip":"fd00::5","src_port":"53000","dst_ip":"fd00::a","dst_port":53,"protocol":"udp","bytes":"64","packets":1,"verdict":"dropped","exporter":{"name":"x","v":[1,2]}}`,
		want: []string{"2024-05-01T10:00:00.250000000Z UDP [fd00::5]:53000 -> [fd00::a]:53 DROPPED pkts=1 bytes=64"},
	}, {
		name: "protocol by number, SCTP and ICMP, verdict and ports optional",
		in: `{"time":"2024-05-01T12:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","protocol":132,"src_port":40000,"dst_port":3868}` + "\n" +
			`{"time":"2024-05-01T12:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","protocol":"ICMP"}`,
		want: []string{
			"2024-05-01T12:00:00.000000000Z SCTP 10.0.0.1:40000 -> 10.0.0.2:3868 UNKNOWN pkts=0 bytes=0",
			"2024-05-01T12:00:00.000000000Z ICMP 10.0.0.1 -> 10.0.0.2 UNKNOWN pkts=0 bytes=0",
		},
	}, {
		name: "reply records and blank lines; generic records are never deduplicated",
		in: `{"time":"2024-05-01T12:00:00Z","src_ip":"10.0.0.2","src_port":80,"dst_ip":"10.0.0.1","dst_port":43210,"protocol":"TCP","reply":true}` + "\n\n  \r\n" +
			`{"time":"2024-05-01T12:00:00Z","src_ip":"10.0.0.1","src_port":43210,"dst_ip":"10.0.0.2","dst_port":80,"protocol":"TCP","bytes":10}` + "\r\n" +
			`{"time":"2024-05-01T12:00:00Z","src_ip":"10.0.0.1","src_port":43210,"dst_ip":"10.0.0.2","dst_port":80,"protocol":"TCP","bytes":10}`,
		want: []string{
			"2024-05-01T12:00:00.000000000Z TCP 10.0.0.1:43210 -> 10.0.0.2:80 UNKNOWN pkts=0 bytes=10",
			"2024-05-01T12:00:00.000000000Z TCP 10.0.0.1:43210 -> 10.0.0.2:80 UNKNOWN pkts=0 bytes=10",
		},
		replies: 1,
	}})
}

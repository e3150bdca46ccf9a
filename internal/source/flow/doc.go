// Package flow decodes network flow records into event.Flow values.
//
// Four formats are understood, detected from the first non-empty line of each
// input or forced with Options.Format:
//
//   - "hubble": Cilium Hubble flows as `hubble observe -o json` and the Hubble
//     exporter write them (one GetFlowsResponse or bare Flow object per line);
//   - "generic": kubedelta's own JSON-lines flow format;
//   - "vpc": AWS VPC flow logs (default version 2 format, or any custom
//     format announced by its header line);
//   - "conntrack": `conntrack -E -o timestamp,extended` event text.
//
// docs/formats/flows.md documents every format, the fields read and the
// rules applied (reply detection, deduplication, label handling).
//
// A decoder only decodes: bytes in, event.Flow out, every Flow oriented from
// the initiator to the responder. Replies are dropped, the same flow observed
// at several vantage points is counted once within a short window, and
// records that are not L3/L4 flows are skipped and counted. It resolves no
// identities and applies no policy.
//
// The hot paths are hand-written scanners that do not allocate per record:
// strings that repeat (namespaces, pods, labels, DNS names, nodes) are
// interned per Decoder, up to a bound.
package flow

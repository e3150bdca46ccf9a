// Package audit decodes Kubernetes API server audit logs (audit.k8s.io/v1
// Events, as written by the log backend, and EventLists, as posted by the
// webhook backend) into event.APIRequest values.
//
// The decoder is a hand-written single-pass JSON scanner: it reads the
// fields kubedelta uses, validates and skips the rest without decoding it,
// interns the repetitive strings and reuses its buffers, so that decoding
// Metadata-level events costs about one allocation each. It filters stages
// (one record per request), deduplicates by request in bounded memory, and
// redacts Secret data and credentials from request and response bodies
// before anything leaves the package. docs/formats/audit.md describes the
// accepted inputs, the stage and deduplication policy, the redaction list
// and the error format.
package audit

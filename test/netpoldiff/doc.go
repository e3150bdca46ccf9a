// Package netpoldiff is a differential test of kubedelta's NetworkPolicy
// engine (internal/netpol) against an independent evaluator, the matcher of
// github.com/mattfenwick/cyclonus (the precursor of kubernetes-sigs
// network-policy-api's policy-assistant). It lives in its own module so that
// cyclonus and its dependencies never enter kubedelta's build.
//
// Run it with: cd test/netpoldiff && go test ./...
package netpoldiff

// Package integration holds tests against real neighbours, started as
// processes on free loopback ports and killed when each test ends:
//
//   - TestAlertmanagerSink: kubedelta's Alertmanager sink posts alerts to a
//     real Alertmanager; the test reads them back from its API
//     (GET /api/v2/alerts), sees Alertmanager notify a webhook receiver, and
//     sees an alert resolve when its endsAt passes.
//   - TestServeWithRealNeighbours: `kubedelta serve` (the command, in
//     process) with an Alertmanager sink takes audit events on its webhook;
//     the alert its detectors raise reaches the real Alertmanager, and a real
//     Prometheus scrapes its /metrics and answers queries with the server's
//     counts.
//
// They run only when KUBEDELTA_INTEGRATION=1 (.ci/run sets it after
// installing the Debian packages prometheus and prometheus-alertmanager) and
// not under -short. The binaries are found on PATH or in /usr/bin;
// PROMETHEUS_BIN and ALERTMANAGER_BIN override them.
package integration

// Package integration holds tests against real neighbours: a real
// Prometheus Alertmanager receiving alerts from kubedelta's Alertmanager
// sink, and a real Prometheus scraping kubedelta's /metrics. They run only
// when KUBEDELTA_INTEGRATION=1 (.ci/run sets it after installing the Debian
// packages prometheus and prometheus-alertmanager) and not under -short.
// The binaries are found on PATH or at /usr/bin; PROMETHEUS_BIN and
// ALERTMANAGER_BIN override them.
package integration

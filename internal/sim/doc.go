// Package sim simulates a Kubernetes cluster and its activity over simulated
// time, deterministically: the same Config (seed included) writes the same
// bytes. It produces realistic data at any scale for kubedelta's demo,
// benchmarks and tests, in exactly the formats kubedelta's sources read:
//
//   - the cluster's objects as a `kind: List` YAML dump (cluster.yaml), every
//     pod that lived during the window included, with its lifetime, node and
//     IP address, so that flows and process events resolve to pods at their
//     time (pod IPs are reused);
//   - the API server's audit log (audit.k8s.io/v1 Events, log backend JSON
//     lines), at the levels a recommended audit policy sets;
//   - Cilium Hubble flows (`hubble observe -o json` lines);
//   - process events, as Falco JSON alerts or Tetragon process_exec events;
//   - the ground truth of injected attacks.
//
// The model (docs/sim.md describes it) is a cluster of N application
// namespaces with their control plane, add-ons, nodes, RBAC (the real default
// ClusterRoles, and over-provisioned identities as real clusters have them),
// NetworkPolicies in some namespaces, and the activity of controllers,
// kubelets, operators, CI, people and workloads; pods churn through rollouts
// and CronJobs. After a learning period, named attacks can be injected
// (AttackNames), each leaving the audit, flow and process traces a real one
// leaves.
//
// Generate streams: it plans the pods' lifetimes up front (memory grows with
// the number of pods, not of events) and then merges every activity source in
// time order, rendering each record with hand-written JSON appends. Each
// output stream is written in time order.
package sim

// Package analyze runs kubedelta's detection pipeline over events: each
// event is enriched, shown to every detector against the baseline learned so
// far, then learned. The CLI (`kubedelta analyze`) and the server call the
// same Pipeline.
package analyze

import (
	"net/netip"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/enrich"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// Options configure a Pipeline.
type Options struct {
	Config *detect.Config
	// Baseline to start from (nil: an empty one).
	Baseline *baseline.Profiles
	// Index and Authorizer come from the cluster inventory; either may be nil.
	Index      *cluster.Index
	Authorizer *rbac.Authorizer
	Detectors  []detect.Detector
	// ExternalBits are the prefix lengths external addresses are grouped
	// by in the network baseline (defaults 24 and 64).
	ExternalV4Bits, ExternalV6Bits int
	// ArgShape maps a process's arguments to the shape the process
	// baseline keys on (nil: the arguments are ignored).
	ArgShape func(args []string) string
}

// Counts are what a Pipeline has seen.
type Counts struct {
	API, Flows, Exec uint64
}

// Pipeline is not safe for concurrent use: feed it from one goroutine (the
// server serializes per partition).
type Pipeline struct {
	opts     Options
	state    detect.State
	agg      *detect.Aggregator
	resolver *enrich.Resolver
	api      []detect.APIDetector
	flow     []detect.FlowDetector
	exec     []detect.ExecDetector
	counts   Counts
	learnSet bool
}

// New builds a pipeline.
func New(opts Options) *Pipeline {
	if opts.Config == nil {
		opts.Config = detect.DefaultConfig()
	}
	if opts.Baseline == nil {
		opts.Baseline = baseline.NewProfiles()
	}
	if opts.ExternalV4Bits == 0 {
		opts.ExternalV4Bits = 24
	}
	if opts.ExternalV6Bits == 0 {
		opts.ExternalV6Bits = 64
	}
	p := &Pipeline{
		opts:     opts,
		state:    detect.State{Profiles: opts.Baseline, Index: opts.Index, Authorizer: opts.Authorizer, Config: opts.Config},
		agg:      detect.NewAggregator(opts.Config),
		resolver: enrich.New(opts.Index),
	}
	for _, d := range opts.Detectors {
		if x, ok := d.(detect.APIDetector); ok {
			p.api = append(p.api, x)
		}
		if x, ok := d.(detect.FlowDetector); ok {
			p.flow = append(p.flow, x)
		}
		if x, ok := d.(detect.ExecDetector); ok {
			p.exec = append(p.exec, x)
		}
	}
	return p
}

// Aggregator returns the alert aggregator (for sinks to hook OnNew).
func (p *Pipeline) Aggregator() *detect.Aggregator { return p.agg }

// Profiles returns the baseline as learned so far.
func (p *Pipeline) Profiles() *baseline.Profiles { return p.opts.Baseline }

// Counts returns how many events of each kind were processed.
func (p *Pipeline) Counts() Counts { return p.counts }

// Alerts returns the ranked, aggregated alerts.
func (p *Pipeline) Alerts() []detect.Alert { return p.agg.Alerts() }

// startLearning fixes the end of the learning window at the first event when
// the config gives a window length and no absolute end.
func (p *Pipeline) startLearning(t time.Time) {
	if p.learnSet {
		return
	}
	p.learnSet = true
	c := p.opts.Config
	if c.LearnUntil.IsZero() && c.Learn > 0 {
		c.LearnUntil = t.Add(time.Duration(c.Learn))
	}
}

// API processes one audit event.
func (p *Pipeline) API(r *event.APIRequest) {
	p.counts.API++
	p.startLearning(r.Time)
	actor := r.Actor()
	emit := func(a detect.Alert) {
		p.agg.Add(a, detect.Facts{User: actor.Username, Groups: actor.Groups, Namespace: r.Namespace})
	}
	for _, d := range p.api {
		d.API(&p.state, r, emit)
	}
	var ip netip.Addr
	if len(r.SourceIPs) > 0 {
		ip, _ = netip.ParseAddr(r.SourceIPs[0])
	}
	if baseline.OutcomeOf(r) == baseline.OutcomeAuthorized {
		p.opts.Baseline.ObserveCall(actor.Username, baseline.CallKey{
			Verb: r.Verb, APIGroup: r.APIGroup, Resource: r.Resource, Subresource: r.Subresource, Namespace: r.Namespace,
		}, r.UserAgent, ip, r.Time)
		p.learnWorkload(r)
	}
}

// learnWorkload records the workloads and images written through the API
// (the detectors' own reading of the write), so that first-seen rules know
// what a namespace runs.
func (p *Pipeline) learnWorkload(r *event.APIRequest) {
	workload, images, ok := detect.WorkloadOfWrite(r)
	if !ok {
		return
	}
	if len(images) == 0 {
		p.opts.Baseline.ObserveWorkload(r.Namespace, workload, "", r.Time)
	}
	for _, img := range images {
		p.opts.Baseline.ObserveWorkload(r.Namespace, workload, img, r.Time)
	}
}

// Flow processes one network flow.
func (p *Pipeline) Flow(f *event.Flow) {
	p.counts.Flows++
	p.startLearning(f.Time)
	src, dst := p.resolver.Flow(f)
	df := detect.Flow{Flow: f, Src: src, Dst: dst}
	emit := func(a detect.Alert) {
		p.agg.Add(a, detect.Facts{Namespace: src.Namespace, IP: dst.IP})
	}
	for _, d := range p.flow {
		d.Flow(&p.state, &df, emit)
	}
	if f.Verdict != event.VerdictDropped {
		p.opts.Baseline.ObserveEdge(src, dst, f.Dst.Port, uint8(f.Protocol), f.Bytes, f.Packets, f.Time,
			p.opts.ExternalV4Bits, p.opts.ExternalV6Bits)
	}
}

// Exec processes one process event. The workload is resolved when the
// sensor did not name it.
func (p *Pipeline) Exec(e *event.Exec) {
	p.counts.Exec++
	p.startLearning(e.Time)
	if e.Workload == "" && e.Namespace != "" && e.Pod != "" {
		e.Workload = p.resolver.PodWorkload(e.Namespace, e.Pod, e.Labels)
	} else if e.Workload != "" && e.WorkloadKind != "" && e.Namespace != "" {
		e.Workload = e.WorkloadKind + "/" + e.Namespace + "/" + e.Workload
		e.WorkloadKind = ""
	}
	emit := func(a detect.Alert) {
		p.agg.Add(a, detect.Facts{Namespace: e.Namespace, Image: e.Image, Registry: baseline.ParseImage(e.Image).Registry})
	}
	for _, d := range p.exec {
		d.Exec(&p.state, e, emit)
	}
	if e.Workload != "" {
		shape := ""
		if p.opts.ArgShape != nil {
			shape = p.opts.ArgShape(e.Args)
		}
		p.opts.Baseline.ObserveProcess(e.Workload, baseline.ProcessKey{Container: e.Container, Executable: e.Executable, ArgShape: shape}, e.Time)
		if e.Image != "" {
			p.opts.Baseline.ObserveWorkload(e.Namespace, e.Workload, e.Image, e.Time)
		}
	}
}

// Options returns the pipeline's options (its Config can be adjusted before
// the first event).
func (p *Pipeline) Options() Options { return p.opts }

// bodyResources are the resources whose written specs the detectors judge
// (pod specs, RBAC rules, webhooks, CSRs, Service types, the cluster DNS
// configuration).
var bodyResources = map[string]bool{
	"pods": true, "deployments": true, "daemonsets": true, "statefulsets": true, "replicasets": true,
	"replicationcontrollers": true, "jobs": true, "cronjobs": true,
	"roles": true, "clusterroles": true, "rolebindings": true, "clusterrolebindings": true,
	"validatingwebhookconfigurations": true, "mutatingwebhookconfigurations": true,
	"certificatesigningrequests": true, "services": true, "configmaps": true,
}

// WantBody reports whether the pipeline uses the request and response
// bodies of r: writes of the resources above. Decoders skip the others'
// bodies (audit.Options.KeepObjectsOf), which keeps decoding fast.
func WantBody(r *event.APIRequest) bool {
	switch r.Verb {
	case "create", "update", "patch":
		return bodyResources[r.Resource]
	}
	return false
}

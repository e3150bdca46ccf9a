// Package watch keeps a live cluster inventory from the API server with
// client-go shared informers (list, then watch, with periodic resync), for
// `kubedelta serve`.
//
// A Watcher mirrors the kinds the offline inventory (package cluster)
// reads from dumps, and never Secrets. It offers three views:
//
//   - Snapshot: a consistent copy of the current objects as a
//     *cluster.Inventory, from which the server rebuilds its RBAC
//     authorizer and network policy engine. OnChange tells it when
//     (debounced) an RBAC object, a NetworkPolicy or a Namespace changed.
//   - Index: one long-lived *cluster.Index, fed incrementally as pods come
//     and go, so that an address resolves to the pod that held it at the
//     time of each event, even after that pod is gone.
//   - Changes: a bounded log of recent inventory changes (objects added,
//     changed in a way that matters, deleted).
//
// Stored objects lose their managedFields and the
// kubectl.kubernetes.io/last-applied-configuration annotation, which are
// most of an object's size and of no use to the analyzers.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/kubedelta/kubedelta/internal/cluster"
)

// Defaults for the zero values of Options.
const (
	// DefaultDebounce is how long OnChange waits for the API server to
	// go quiet after an RBAC, NetworkPolicy or Namespace change.
	DefaultDebounce = time.Second
	// DefaultPodRetention is how long the Index remembers a pod after it
	// is gone, so that late events still resolve its addresses.
	DefaultPodRetention = time.Hour
	// DefaultMaxChanges is how many changes Changes keeps.
	DefaultMaxChanges = 4096
)

// maxDebounceFactor bounds how long a steady stream of changes can delay
// OnChange: at most this many Debounce periods after the first change.
const maxDebounceFactor = 10

// Sentinel errors. Errors from New wrap ErrConfig; Run returns ErrRunning
// when called twice.
var (
	// ErrConfig: no usable API server configuration (kubeconfig missing,
	// unreadable or invalid, or not in a cluster and none given).
	ErrConfig = errors.New("no usable API server configuration")
	// ErrRunning: Run was called on a Watcher that already ran.
	ErrRunning = errors.New("watcher already started")
	// ErrNotSynced: Run stopped before the caches were filled.
	ErrNotSynced = errors.New("stopped before the inventory was synced")
)

// Options configure a Watcher.
type Options struct {
	// Kubeconfig is the path of a kubeconfig file. Empty means the
	// in-cluster service account when running in a pod, else $KUBECONFIG,
	// else ~/.kube/config (with their current context).
	Kubeconfig string
	// Resync is the informers' resync period: how often every cached
	// object is delivered again, which re-applies it to the views. Zero
	// disables resync; watches still keep the views current.
	Resync time.Duration
	// Logger receives the watcher's logs, and client-go's; nil discards.
	Logger *slog.Logger
	// OnChange is called once after the first sync and then, debounced,
	// after RBAC objects, NetworkPolicies or Namespaces change: the server
	// rebuilds what it derives from them out of Snapshot. Calls never
	// overlap; a slow OnChange delays the next one, and changes during it
	// are coalesced into one more call. Nil means none.
	OnChange func()

	// Debounce is how long OnChange waits for changes to stop
	// (DefaultDebounce); a steady stream of changes still gets a call
	// every 10 Debounce periods.
	Debounce time.Duration
	// PodRetention is how long the Index keeps pods that are gone
	// (DefaultPodRetention).
	PodRetention time.Duration
	// MaxChanges is how many recent changes Changes keeps
	// (DefaultMaxChanges).
	MaxChanges int
}

// Watcher keeps the live inventory. Create it with New or NewForClient and
// start it with Run; its views are safe for concurrent use.
type Watcher struct {
	log       *slog.Logger
	factory   informers.SharedInformerFactory
	informers []kindInformer
	onChange  func()
	debounce  time.Duration
	retention time.Duration
	now       func() time.Time

	running atomic.Bool
	synced  atomic.Bool
	poke    chan struct{} // buffered 1: an OnChange is due

	// mu guards the object store, the changes log and index: the
	// handlers of every kind update them together, so that Snapshot and
	// the Index agree with each other at any instant.
	mu      sync.RWMutex
	store   store
	changes ring
	index   *cluster.Index // nil until the first sync
}

// kindInformer is one kind's informer and its handler registration.
type kindInformer struct {
	spec     *kindSpec
	informer cache.SharedIndexInformer
	reg      cache.ResourceEventHandlerRegistration
}

// New connects to the API server that opts.Kubeconfig (or the in-cluster
// configuration) designates. It does not contact the server: Run does.
func New(opts Options) (*Watcher, error) {
	cfg, err := restConfig(opts.Kubeconfig)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return NewForClient(client, opts)
}

// NewForClient builds a Watcher on an existing client (a fake clientset in
// tests).
func NewForClient(client kubernetes.Interface, opts Options) (*Watcher, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrConfig)
	}
	if opts.Resync < 0 || opts.Debounce < 0 || opts.PodRetention < 0 || opts.MaxChanges < 0 {
		return nil, fmt.Errorf("%w: negative Resync, Debounce, PodRetention or MaxChanges", ErrConfig)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		log:       log,
		onChange:  opts.OnChange,
		debounce:  orDefault(opts.Debounce, DefaultDebounce),
		retention: orDefault(opts.PodRetention, DefaultPodRetention),
		now:       time.Now,
		poke:      make(chan struct{}, 1),
		changes:   newRing(orDefault(opts.MaxChanges, DefaultMaxChanges)),
	}
	specs := kindSpecs()
	w.store = newStore(specs)
	w.factory = informers.NewSharedInformerFactoryWithOptions(client, opts.Resync,
		informers.WithTransform(newTypeMetaSetter(specs).transform))
	for _, spec := range specs {
		inf := spec.informer(w.factory)
		if err := inf.SetWatchErrorHandlerWithContext(w.watchErrorHandler(spec)); err != nil {
			return nil, fmt.Errorf("watch %s: %w", spec.resource, err)
		}
		reg, err := inf.AddEventHandler(w.handler(spec))
		if err != nil {
			return nil, fmt.Errorf("watch %s: %w", spec.resource, err)
		}
		w.informers = append(w.informers, kindInformer{spec: spec, informer: inf, reg: reg})
	}
	return w, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Run starts the informers, waits until every kind is listed and handled,
// builds the Index, calls OnChange once, and then keeps the views current
// until ctx ends. It returns nil when ctx ends after the first sync, and
// an error wrapping ErrNotSynced and ctx's cause when ctx ends before.
// While a kind cannot be listed (no permission, API server down) Run keeps
// retrying, and logs which kinds it is waiting for.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(w.log.Handler()))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		w.factory.Shutdown()
	}()
	start := w.now()
	w.factory.StartWithContext(ctx)
	if !w.waitSynced(ctx) {
		return fmt.Errorf("%w (waiting for %s): %w", ErrNotSynced,
			strings.Join(w.unsynced(), ", "), context.Cause(ctx))
	}
	w.buildIndex()
	w.synced.Store(true)
	w.log.Info("cluster inventory synced", "duration", w.now().Sub(start).Round(time.Millisecond), "objects", w.count())
	wg.Go(func() { w.notifyLoop(ctx) })
	w.pruneLoop(ctx)
	return nil
}

// waitSynced waits until every handler has seen its kind's initial list,
// logging the kinds still missing every 30 seconds.
func (w *Watcher) waitSynced(ctx context.Context) bool {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	report := w.now().Add(30 * time.Second)
	for {
		missing := w.unsynced()
		if len(missing) == 0 {
			return true
		}
		if now := w.now(); now.After(report) {
			w.log.Warn("still waiting for the API server to list some kinds; check the watcher's RBAC (list and watch) and connectivity",
				"kinds", missing)
			report = now.Add(30 * time.Second)
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// unsynced names the resources whose handler has not yet seen the
// initial list.
func (w *Watcher) unsynced() []string {
	var out []string
	for _, ki := range w.informers {
		if !ki.reg.HasSynced() {
			out = append(out, ki.spec.resource)
		}
	}
	return out
}

// buildIndex indexes the synced objects: services, nodes and controllers
// as of now, and the pods that the handlers keep adding and deleting
// afterwards.
func (w *Watcher) buildIndex() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.index = cluster.NewIndex(w.store.inventory())
}

// pruneLoop drops pods gone for longer than the retention from the Index,
// until ctx ends.
func (w *Watcher) pruneLoop(ctx context.Context) {
	every := min(w.retention/4, 5*time.Minute)
	every = max(every, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.prune()
		}
	}
}

func (w *Watcher) prune() int {
	idx := w.Index()
	if idx == nil {
		return 0
	}
	n := idx.Prune(w.now().Add(-w.retention))
	if n > 0 {
		w.log.Debug("forgot pods gone for longer than the retention", "pods", n, "retention", w.retention)
	}
	return n
}

// Synced reports whether the first sync is complete: until then Snapshot
// may lack objects and Index is nil.
func (w *Watcher) Synced() bool { return w.synced.Load() }

// Index returns the long-lived index of the cluster's pods, alive and
// recently gone, or nil before the first sync. It is the same Index for the
// life of the Watcher: pods are added, updated and deleted in place.
// Services, nodes and controllers (ReplicaSets, Jobs, CronJobs) in it are
// those of the first sync; a pod's workload still resolves from its owner
// references and the names controllers give.
func (w *Watcher) Index() *cluster.Index {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.index
}

// Snapshot returns the current objects, each kind sorted by namespace and
// name. The slices are the caller's; the objects' nested fields (maps,
// slices) are shared with the watcher and must be treated as read-only.
func (w *Watcher) Snapshot() *cluster.Inventory {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.store.inventory()
}

// Changes returns the recent inventory changes, oldest first. The initial
// list is not a change: only what happened after a kind was listed.
func (w *Watcher) Changes() []Change {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.changes.all()
}

func (w *Watcher) count() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.store.count()
}

// restConfig finds the API server configuration.
func restConfig(kubeconfig string) (*rest.Config, error) {
	cfg, err := loadRestConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "kubedelta"
	// Protobuf halves the decode cost and the transfer of large lists.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return cfg, nil
}

// Package loadgen measures a running kubedelta server: it posts realistic
// audit EventList batches to the audit webhook from several concurrent
// senders, bounded in event count and in time, and reports throughput and
// acknowledgement latency. It only talks to loopback addresses: it is a
// benchmark tool, not a way to flood someone else's server.
package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("invalid load generator config")

// Defaults and bounds.
const (
	DefaultBatchSize   = 400 // the API server's --audit-webhook-batch-max-size default
	DefaultConcurrency = 4
	DefaultDuration    = 30 * time.Second
	DefaultEvents      = 1_000_000
	MaxEvents          = 100_000_000
	MaxDuration        = time.Hour
)

// Config describes one run. Events and Duration both bound it: the run
// stops at whichever comes first.
type Config struct {
	// Target is the server's base URL (http://127.0.0.1:8080); its host
	// must be a loopback address or localhost.
	Target string
	// Path is the endpoint (default /audit/webhook).
	Path string
	// Token is sent as a bearer token when set.
	Token string
	// CAFile verifies an HTTPS target's certificate (e.g. the one
	// --tls-generate wrote).
	CAFile string
	// Events bounds the events sent (default DefaultEvents).
	Events int64
	// Duration bounds the run (default DefaultDuration).
	Duration time.Duration
	// BatchSize is the number of events per EventList.
	BatchSize int
	// Concurrency is the number of concurrent senders.
	Concurrency int
	// Rate caps events per second (0: as fast as the server answers).
	Rate float64
	// Templates are audit events (JSON objects, one per element) to cycle
	// through; nil synthesizes them. Each sent copy gets a unique auditID
	// and its timestamps shifted by whole days per pass, so the server
	// sees new requests in advancing time, never duplicates.
	Templates [][]byte
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

// Result is what a run measured.
type Result struct {
	Events    int64         `json:"events"`
	Batches   int64         `json:"batches"`
	Failed    int64         `json:"failedBatches"`
	Status    map[int]int64 `json:"status"`
	Elapsed   time.Duration `json:"elapsed"`
	PerSecond float64       `json:"eventsPerSecond"`
	// Acknowledgement latency of the batches answered 200.
	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
	// BodyBytes is the mean size of a batch body.
	BodyBytes int64 `json:"meanBodyBytes"`
}

func (c *Config) complete() error {
	if c.Path == "" {
		c.Path = "/audit/webhook"
	}
	if c.Events <= 0 {
		c.Events = DefaultEvents
	}
	if c.Events > MaxEvents {
		return fmt.Errorf("%w: events %d: at most %d", ErrConfig, c.Events, MaxEvents)
	}
	if c.Duration <= 0 {
		c.Duration = DefaultDuration
	}
	if c.Duration > MaxDuration {
		return fmt.Errorf("%w: duration %s: at most %s", ErrConfig, c.Duration, MaxDuration)
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Concurrency > 256 {
		return fmt.Errorf("%w: concurrency %d: at most 256", ErrConfig, c.Concurrency)
	}
	if c.Rate < 0 {
		return fmt.Errorf("%w: negative rate", ErrConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return checkLoopback(c.Target)
}

// checkLoopback refuses targets that are not on this machine.
func checkLoopback(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: target %q: want http://127.0.0.1:PORT or https://localhost:PORT", ErrConfig, target)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: target %q: the load generator only sends to loopback addresses (127.0.0.1, ::1, localhost)", ErrConfig, target)
	}
	return nil
}

func (c *Config) client() (*http.Client, error) {
	tr := &http.Transport{
		MaxIdleConnsPerHost: c.Concurrency,
		DisableCompression:  true,
		// Only loopback: never through a proxy.
		Proxy:       nil,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: CA file: %w", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: CA file %s: no PEM certificate", ErrConfig, c.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// Run sends batches until c.Events are sent, c.Duration has passed or ctx
// is cancelled, and reports.
func Run(ctx context.Context, c Config) (Result, error) {
	if err := c.complete(); err != nil {
		return Result{}, err
	}
	client, err := c.client()
	if err != nil {
		return Result{}, err
	}
	defer client.CloseIdleConnections()
	tpl := c.Templates
	if len(tpl) == 0 {
		tpl = Synthesize(2000, 1)
	}
	gen, err := newGenerator(tpl)
	if err != nil {
		return Result{}, err
	}
	// Requests in flight when the time is up complete (the server may have
	// appended them already): only new batches stop.
	reqCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()

	var (
		next     atomic.Int64 // events claimed
		batches  atomic.Int64
		failed   atomic.Int64
		bodySum  atomic.Int64
		mu       sync.Mutex
		status   = map[int]int64{}
		lat      []time.Duration
		sent     atomic.Int64
		firstErr error
	)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range c.Concurrency {
		wg.Go(func() {
			var buf bytes.Buffer
			var mine []time.Duration
			local := map[int]int64{}
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				for k, v := range local {
					status[k] += v
				}
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				n := int64(c.BatchSize)
				from := next.Add(n) - n
				if from >= c.Events {
					return
				}
				n = min(n, c.Events-from)
				if c.Rate > 0 {
					due := start.Add(time.Duration(float64(from) / c.Rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				buf.Reset()
				gen.batch(&buf, from, int(n))
				bodySum.Add(int64(buf.Len()))
				t0 := time.Now()
				code, err := post(reqCtx, client, c, buf.Bytes())
				d := time.Since(t0)
				batches.Add(1)
				if err != nil {
					if reqCtx.Err() != nil {
						return
					}
					failed.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				local[code]++
				if code == http.StatusOK {
					mine = append(mine, d)
					sent.Add(n)
				} else {
					failed.Add(1)
				}
				_ = w
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := Result{Events: sent.Load(), Batches: batches.Load(), Failed: failed.Load(), Status: status, Elapsed: elapsed}
	r.PerSecond = float64(r.Events) / elapsed.Seconds()
	if r.Batches > 0 {
		r.BodyBytes = bodySum.Load() / r.Batches
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		r.P50 = lat[len(lat)*50/100]
		r.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
		r.Max = lat[len(lat)-1]
	}
	if r.Events == 0 && firstErr != nil {
		return r, fmt.Errorf("no batch acknowledged: %w", firstErr)
	}
	return r, nil
}

func post(ctx context.Context, client *http.Client, c Config, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.Target, "/")+c.Path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// PeakRSS returns a process's peak resident set size (VmHWM in
// /proc/<pid>/status), in bytes.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// CPUTime returns the user plus system CPU time a process has used
// (/proc/<pid>/stat), to report events per CPU-second, the steadier figure
// on a shared machine.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// USER_HZ is 100 on Linux.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

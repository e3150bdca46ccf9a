// Package sink delivers live alerts to the places people look at: stdout
// (JSON lines), a generic webhook, Prometheus Alertmanager's v2 API and a
// Slack-compatible incoming webhook.
//
// A Sink sends one batch; the Dispatcher sits in front of the sinks and gives
// each one a bounded queue, batching, retries with exponential backoff and
// full jitter, and counters. Publish never blocks the caller (the server's
// processing loop): when a sink's queue is full the new alert is dropped for
// that sink and counted. Alerts are also kept in the server's alert store,
// so a dropped delivery is a missed notification, never a lost alert.
package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
)

// Sink sends a batch of alerts somewhere. Send is called from one goroutine
// at a time per sink (the Dispatcher's worker). An error wrapping
// ErrPermanent means retrying the same batch cannot succeed; any other error
// is retried.
type Sink interface {
	// Name identifies the sink in logs, stats and metrics; unique per dispatcher.
	Name() string
	Send(ctx context.Context, alerts []detect.Alert) error
}

// Errors.
var (
	// ErrConfig reports an invalid SinkConfig.
	ErrConfig = errors.New("invalid sink config")
	// ErrPermanent marks a send error that retrying cannot fix (a 4xx
	// answer other than 408 and 429, an alert that cannot be encoded).
	ErrPermanent = errors.New("permanent sink error")
)

// Filter selects the alerts a sink receives.
type Filter struct {
	// MinSeverity drops alerts below it; the zero value (info) keeps all.
	MinSeverity detect.Severity `json:"minSeverity"`
	// Categories, when not empty, keeps only alerts of these categories
	// (detect.CategoryAPI, detect.CategoryRBAC, …).
	Categories []string `json:"categories,omitempty"`
}

// Match reports whether the filter keeps a.
func (f Filter) Match(a *detect.Alert) bool {
	if a.Severity < f.MinSeverity {
		return false
	}
	return len(f.Categories) == 0 || slices.Contains(f.Categories, a.Category)
}

// Sink types accepted by New.
const (
	TypeStdout       = "stdout"
	TypeWebhook      = "webhook"
	TypeAlertmanager = "alertmanager"
	TypeSlack        = "slack"
)

// Defaults.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultResolveTimeout = time.Hour
)

// SinkConfig configures one sink. Type, URL, MinSeverity, Categories,
// Headers and Timeout are the design's fields; Name, ResolveTimeout,
// GeneratorURL and Out are optional.
type SinkConfig struct {
	// Type is stdout, webhook, alertmanager or slack.
	Type string `json:"type"`
	// URL is the webhook or Slack URL, or Alertmanager's base URL
	// (http://alertmanager:9093; alerts go to {URL}/api/v2/alerts).
	URL         string          `json:"url,omitempty"`
	MinSeverity detect.Severity `json:"minSeverity,omitempty"`
	Categories  []string        `json:"categories,omitempty"`
	// Headers are added to every request (e.g. Authorization). Their values
	// are never logged.
	Headers map[string]string `json:"headers,omitempty"`
	// Timeout bounds one HTTP request; 0 means DefaultTimeout.
	Timeout time.Duration `json:"timeout,omitempty"`

	// Name overrides the sink's name (default: its type); needed when two
	// sinks share a type.
	Name string `json:"name,omitempty"`
	// ResolveTimeout (Alertmanager): endsAt is LastSeen plus this, so an
	// alert resolves when it stops repeating; 0 means DefaultResolveTimeout.
	ResolveTimeout time.Duration `json:"resolveTimeout,omitempty"`
	// GeneratorURL (Alertmanager): a link back to kubedelta, sent as each
	// alert's generatorURL with "?id=<alert id>" appended.
	GeneratorURL string `json:"generatorURL,omitempty"`
	// Out (stdout) is where JSON lines go; nil means os.Stdout.
	Out io.Writer `json:"-"`
}

// Filter returns the config's filter.
func (c SinkConfig) Filter() Filter {
	return Filter{MinSeverity: c.MinSeverity, Categories: slices.Clone(c.Categories)}
}

// knownCategories are the categories detectors emit; a filter naming
// another one is almost certainly a typo that would silence the sink.
var knownCategories = []string{
	detect.CategoryAPI, detect.CategoryRBAC, detect.CategorySecret, detect.CategoryExec,
	detect.CategoryWorkload, detect.CategoryPersistence, detect.CategoryImage,
	detect.CategoryNetwork, detect.CategorySequence,
}

// Validate checks the config without building anything.
func (c SinkConfig) Validate() error {
	name := c.Type
	if c.Name != "" {
		name = c.Name
	}
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: sink %q: %s: %s", ErrConfig, name, field, fmt.Sprintf(format, args...))
	}
	switch c.Type {
	case TypeStdout:
		if c.URL != "" {
			return fail("url", "not used by the stdout sink")
		}
	case TypeWebhook, TypeAlertmanager, TypeSlack:
		if c.URL == "" {
			return fail("url", "required for a %s sink", c.Type)
		}
		u, err := url.Parse(c.URL)
		if err != nil {
			return fail("url", "%v", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fail("url", "scheme %q: want http or https", u.Scheme)
		}
		if u.Host == "" {
			return fail("url", "no host in %q", redactURL(c.URL))
		}
	case "":
		return fail("type", "required: one of stdout, webhook, alertmanager, slack")
	default:
		return fail("type", "unknown type %q: want one of stdout, webhook, alertmanager, slack", c.Type)
	}
	if c.MinSeverity < detect.Info || c.MinSeverity > detect.Critical {
		return fail("minSeverity", "out of range: %d", int(c.MinSeverity))
	}
	for _, cat := range c.Categories {
		if !slices.Contains(knownCategories, cat) {
			return fail("categories", "unknown category %q: want some of %s", cat, strings.Join(knownCategories, ", "))
		}
	}
	for k := range c.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return fail("headers", "invalid header name %q", k)
		}
		if strings.ContainsAny(c.Headers[k], "\r\n") {
			// Name the header, never its value: it is often a credential.
			return fail("headers", "value of %q contains a line break", k)
		}
	}
	if len(c.Headers) > 0 && c.Type == TypeStdout {
		return fail("headers", "not used by the stdout sink")
	}
	if c.Timeout < 0 {
		return fail("timeout", "negative: %v", c.Timeout)
	}
	if c.ResolveTimeout < 0 {
		return fail("resolveTimeout", "negative: %v", c.ResolveTimeout)
	}
	if c.GeneratorURL != "" {
		if c.Type != TypeAlertmanager {
			return fail("generatorURL", "only used by the alertmanager sink")
		}
		if u, err := url.Parse(c.GeneratorURL); err != nil || !u.IsAbs() {
			return fail("generatorURL", "want an absolute URL, got %q", c.GeneratorURL)
		}
	}
	if c.Name != "" && strings.ContainsAny(c.Name, " \t\r\n\"") {
		return fail("name", "must not contain spaces or quotes")
	}
	return nil
}

// New builds the sink a config describes. log receives the sink's own
// diagnostics; nil discards.
func New(c SinkConfig, log *slog.Logger) (Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := c.Name
	if name == "" {
		name = c.Type
	}
	log = log.With("sink", name)
	switch c.Type {
	case TypeStdout:
		return newStdout(name, c.Out), nil
	case TypeWebhook:
		return &webhook{name: name, post: newPoster(c, log)}, nil
	case TypeAlertmanager:
		resolve := c.ResolveTimeout
		if resolve == 0 {
			resolve = DefaultResolveTimeout
		}
		return &alertmanager{name: name, post: newPoster(c, log), resolve: resolve, generatorURL: c.GeneratorURL}, nil
	case TypeSlack:
		return &slack{name: name, post: newPoster(c, log)}, nil
	}
	panic("unreachable: Validate accepted type " + c.Type)
}

// Targets builds every configured sink with its filter, ready for
// NewDispatcher. It fails on the first invalid config.
func Targets(cfgs []SinkConfig, log *slog.Logger) ([]Target, error) {
	out := make([]Target, 0, len(cfgs))
	for i, c := range cfgs {
		s, err := New(c, log)
		if err != nil {
			return nil, fmt.Errorf("sinks[%d]: %w", i, err)
		}
		out = append(out, Target{Sink: s, Filter: c.Filter()})
	}
	return out, nil
}

// redactURL keeps a URL's scheme and host for logs: paths (Slack's holds
// the webhook secret), queries and user info may carry credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}

package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// HTTPError is a non-2xx answer. It wraps ErrPermanent for 3xx answers
// (redirects are not followed) and 4xx answers other than 408 (request
// timeout) and 429 (too many requests): a receiver that rejects a payload
// will reject it again.
type HTTPError struct {
	StatusCode int
	// RetryAfter is the receiver's Retry-After, 0 when absent or unparsable.
	RetryAfter time.Duration
	// Body is the start of the answer's body, for the log.
	Body string
}

func (e *HTTPError) Error() string {
	msg := "HTTP " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Unwrap returns ErrPermanent for answers that retrying cannot change.
func (e *HTTPError) Unwrap() error {
	if e.permanent() {
		return ErrPermanent
	}
	return nil
}

func (e *HTTPError) permanent() bool {
	switch {
	case e.StatusCode == http.StatusRequestTimeout, e.StatusCode == http.StatusTooManyRequests:
		return false
	case e.StatusCode >= 300 && e.StatusCode < 500:
		// 3xx: redirects are not followed, the URL needs fixing.
		return true
	}
	return false
}

// retryAfter returns the receiver's requested delay carried by err, if any.
func retryAfter(err error) time.Duration {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.RetryAfter
	}
	return 0
}

// Limits on what is read from a receiver's answer.
const (
	errorBodyLimit = 512
	drainLimit     = 64 << 10
)

// poster POSTs JSON to one URL with fixed headers.
type poster struct {
	client  *http.Client
	url     string
	headers map[string]string
	log     *slog.Logger
}

func newPoster(c SinkConfig, log *slog.Logger) *poster {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	var tr *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = dt.Clone()
	} else {
		tr = &http.Transport{}
	}
	tr.MaxIdleConnsPerHost = 2
	tr.ResponseHeaderTimeout = timeout
	u := c.URL
	if c.Type == TypeAlertmanager {
		u = strings.TrimRight(u, "/") + "/api/v2/alerts"
	}
	// Log the header names only: their values are usually credentials.
	log.Debug("sink configured", "url", redactURL(u), "headers", slices.Sorted(maps.Keys(c.Headers)), "timeout", timeout)
	return &poster{
		client: &http.Client{
			Timeout:   timeout,
			Transport: tr,
			// Go would follow a 301/302/303 with a GET and no body, and a
			// 200 from the new location would look like a delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		url:     u,
		headers: maps.Clone(c.Headers),
		log:     log,
	}
}

// post sends body and returns nil on a 2xx answer, an *HTTPError on any
// other answer, or the transport error.
func (p *poster) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: building request: %w", ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kubedelta")
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		// url.Error includes the full URL, which may hold a secret (Slack).
		return fmt.Errorf("POST %s: %w", redactURL(p.url), unwrapURLError(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	return &HTTPError{
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Body:       printable(head),
	}
}

// marshalJSON encodes v without HTML escaping: receivers display the
// text, and "<" and "&" in a message stay readable in their logs.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: encoding alerts: %w", ErrPermanent, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// unwrapURLError drops *url.Error's wrapper, and with it the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 section 10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// printable trims and strips control characters from a receiver's answer.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, string(bytes.ToValidUTF8(b, []byte("?"))))
	return strings.TrimSpace(s)
}

package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/kubedelta/kubedelta/internal/detect"
)

// stdoutSink writes one JSON object per alert per line.
type stdoutSink struct {
	name string
	mu   sync.Mutex
	out  io.Writer
}

func newStdout(name string, out io.Writer) *stdoutSink {
	if out == nil {
		out = os.Stdout
	}
	return &stdoutSink{name: name, out: out}
}

func (s *stdoutSink) Name() string { return s.name }

// Send encodes the whole batch first and writes it with one Write, so a
// batch's lines are never interleaved with another writer's.
func (s *stdoutSink) Send(_ context.Context, alerts []detect.Alert) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range alerts {
		if err := enc.Encode(&alerts[i]); err != nil {
			return fmt.Errorf("%w: encoding alert %s: %w", ErrPermanent, alerts[i].ID, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.out.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing alerts: %w", err)
	}
	return nil
}

// webhook POSTs the batch as a JSON array of detect.Alert.
type webhook struct {
	name string
	post *poster
}

func (w *webhook) Name() string { return w.name }

func (w *webhook) Send(ctx context.Context, alerts []detect.Alert) error {
	body, err := marshalJSON(alerts)
	if err != nil {
		return err
	}
	return w.post.post(ctx, body)
}

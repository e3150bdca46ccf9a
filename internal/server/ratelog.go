package server

import (
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// rejectLog logs refused requests and rejected records at most rejectBurst
// times per rejectWindow, then once per window how many were not logged: a
// misbehaving sender must not flood the log. It logs the endpoint, the
// remote address, the status and the reason — never a body.
type rejectLog struct {
	logger *slog.Logger
	now    func() time.Time

	mu         sync.Mutex
	window     time.Time
	logged     int
	suppressed int
}

const (
	rejectWindow = time.Minute
	rejectBurst  = 10
)

func newRejectLog(log *slog.Logger, now func() time.Time) *rejectLog {
	return &rejectLog{logger: log, now: now}
}

func (l *rejectLog) log1(msg, endpoint string, r *http.Request, args []any) {
	l.logger.Warn(msg, append([]any{"endpoint", endpoint, "remote", r.RemoteAddr}, args...)...)
}

// log records one reject; args are key-value pairs.
func (l *rejectLog) log(msg, endpoint string, r *http.Request, args ...any) {
	now := l.now()
	l.mu.Lock()
	if now.Sub(l.window) >= rejectWindow {
		if l.suppressed > 0 {
			l.logger.Warn("further rejects were not logged", "count", l.suppressed, "window", rejectWindow)
		}
		l.window, l.logged, l.suppressed = now, 0, 0
	}
	if l.logged >= rejectBurst {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.logged++
	l.mu.Unlock()
	l.log1(msg, endpoint, r, args)
}

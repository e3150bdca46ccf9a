package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// storedAlert is the part of GET /api/v1/alerts this test reads.
type storedAlert struct {
	Rule     string `json:"rule"`
	Subject  string `json:"subject"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Count    uint64 `json:"count"`
	Evidence []struct {
		Kind    string `json:"kind"`
		Summary string `json:"summary"`
	} `json:"evidence"`
}

// TestAuditDeniedReachesKubedelta: a request RBAC denies, made with an
// ordinary user's token, reaches `kubedelta serve` through the API server's
// audit webhook backend and is raised as an rbac.denied alert for that
// user.
func TestAuditDeniedReachesKubedelta(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	const ns = "e2e-denied"
	mustCreate(t, func() error {
		_, err := e.admin.CoreV1().Namespaces().Create(ctx, namespaceObj(ns), metav1.CreateOptions{})
		return err
	})

	sent := time.Now()
	_, err := e.user.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("eve listing secrets in %s: %v; want 403 Forbidden", ns, err)
	}

	// The API server's own log (same policy) holds the decision: the
	// audit policy works and the event kubedelta should see exists.
	eventually(t, 30*time.Second, "the denial in the API server's audit log", func() bool {
		return auditLogHas(e.auditLog, func(ev auditEvent) bool {
			return ev.User.Username == "eve" && ev.ResponseStatus.Code == http.StatusForbidden &&
				ev.Annotations["authorization.k8s.io/decision"] == "forbid"
		})
	})

	var found storedAlert
	eventually(t, time.Minute, "an rbac.denied alert for eve from kubedelta serve", func() bool {
		alerts, err := e.alerts()
		if err != nil {
			t.Logf("GET /api/v1/alerts: %v", err)
			return false
		}
		for _, a := range alerts {
			if a.Rule == "rbac.denied" && strings.Contains(a.Subject, "eve") {
				found = a
				return true
			}
		}
		return false
	})
	t.Logf("alert %s after %s: subject %s, severity %s: %s", found.Rule, time.Since(sent).Round(time.Millisecond), found.Subject, found.Severity, found.Message)
	if !strings.Contains(found.Message+fmt.Sprint(found.Evidence), "secrets") {
		t.Errorf("the alert does not name the denied action (list secrets): %+v", found)
	}
}

func (e *env) alerts() ([]storedAlert, error) {
	resp, err := http.Get(e.serveURL + "/api/v1/alerts?category=rbac&limit=1000")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	var list struct {
		Alerts []storedAlert `json:"alerts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	return list.Alerts, nil
}

// auditEvent is the part of an audit.k8s.io/v1 Event this test reads.
type auditEvent struct {
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Annotations map[string]string `json:"annotations"`
}

// auditLogHas reports whether an event in the JSON-lines audit log matches.
func auditLogHas(path string, match func(auditEvent) bool) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var ev auditEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && match(ev) {
			return true
		}
	}
	return false
}

func namespaceObj(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

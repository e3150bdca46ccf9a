package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kubedelta/kubedelta/internal/event"
)

// This file is the slow, obvious reference decoder that FuzzDecode compares
// the scanner with: encoding/json decodes each top-level value into generic
// maps, then the fields are picked by exact key. It shares no code with the
// decoder, and implements the same documented semantics:
//   - keys match exactly; a repeated key replaces the earlier value (maps do);
//   - null means absent, for every field;
//   - only the fields read are type-checked;
//   - a top-level value must be an Event or an EventList of audit.k8s.io/v1;
//     EventList items may omit kind and apiVersion;
//   - auditID and stage (one of the four stages) are required.

type refResult struct {
	events   []event.APIRequest
	rejected int
	// broken: a syntax error stopped the reference; the decoder must have
	// rejected something too, and delivered at least events.
	broken bool
}

func refDecode(data []byte) refResult {
	var res refResult
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return res
		}
		if err != nil {
			res.rejected++
			res.broken = true
			return res
		}
		res.top(v)
	}
}

func (res *refResult) top(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		res.rejected++
		return
	}
	ev, kind, version, err := refEvent(m)
	if err != nil || version != "audit.k8s.io/v1" {
		res.rejected++
		return
	}
	switch kind {
	case "Event":
		if refValid(&ev) {
			res.events = append(res.events, ev)
		} else {
			res.rejected++
		}
	case "EventList":
		items, ok := m["items"]
		if !ok || items == nil {
			return
		}
		list, ok := items.([]any)
		if !ok {
			res.rejected++
			return
		}
		for _, it := range list {
			im, ok := it.(map[string]any)
			if !ok {
				res.rejected++
				continue
			}
			ev, kind, version, err := refEvent(im)
			if err != nil || (kind != "" && kind != "Event") || (version != "" && version != "audit.k8s.io/v1") || !refValid(&ev) {
				res.rejected++
				continue
			}
			res.events = append(res.events, ev)
		}
	default:
		res.rejected++
	}
}

func refValid(ev *event.APIRequest) bool {
	switch ev.Stage {
	case "RequestReceived", "ResponseStarted", "ResponseComplete", "Panic":
		return ev.AuditID != ""
	}
	return false
}

var errRefType = errors.New("wrong type")

func refString(m map[string]any, key string) (string, error) {
	switch v := m[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("%s: %w", key, errRefType)
}

func refObject(m map[string]any, key string) (map[string]any, error) {
	switch v := m[key].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("%s: %w", key, errRefType)
}

func refStrings(m map[string]any, key string) ([]string, error) {
	switch v := m[key].(type) {
	case nil:
		return nil, nil
	case []any:
		var out []string
		for _, e := range v {
			switch s := e.(type) {
			case nil:
				out = append(out, "")
			case string:
				out = append(out, s)
			default:
				return nil, fmt.Errorf("%s element: %w", key, errRefType)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: %w", key, errRefType)
}

func refIdentity(m map[string]any, key string) (event.Identity, error) {
	var id event.Identity
	u, err := refObject(m, key)
	if err != nil || u == nil {
		return id, err
	}
	if id.Username, err = refString(u, "username"); err != nil {
		return id, err
	}
	if id.UID, err = refString(u, "uid"); err != nil {
		return id, err
	}
	id.Groups, err = refStrings(u, "groups")
	return id, err
}

func refTime(m map[string]any, key string) (time.Time, error) {
	s, err := refString(m, key)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

// refEvent extracts every field the decoder reads, whatever the kind.
func refEvent(m map[string]any) (ev event.APIRequest, kind, version string, err error) {
	str := func(key string, dst *string) {
		if err == nil {
			*dst, err = refString(m, key)
		}
	}
	var uri string
	str("kind", &kind)
	str("apiVersion", &version)
	str("level", &ev.Level)
	str("auditID", &ev.AuditID)
	str("stage", &ev.Stage)
	str("requestURI", &uri)
	str("verb", &ev.Verb)
	str("userAgent", &ev.UserAgent)
	if err != nil {
		return
	}
	ev.RequestURI = uri
	if ev.User, err = refIdentity(m, "user"); err != nil {
		return
	}
	if ev.Impersonated, err = refIdentity(m, "impersonatedUser"); err != nil {
		return
	}
	if ev.SourceIPs, err = refStrings(m, "sourceIPs"); err != nil {
		return
	}
	var sub map[string]any
	if sub, err = refObject(m, "objectRef"); err != nil {
		return
	}
	if sub != nil {
		for key, dst := range map[string]*string{"resource": &ev.Resource, "namespace": &ev.Namespace, "name": &ev.Name,
			"apiGroup": &ev.APIGroup, "apiVersion": &ev.APIVersion, "subresource": &ev.Subresource} {
			if *dst, err = refString(sub, key); err != nil {
				return
			}
		}
	}
	if sub, err = refObject(m, "responseStatus"); err != nil {
		return
	}
	var reason, message string
	if sub != nil {
		switch c := sub["code"].(type) {
		case nil:
		case json.Number:
			n, perr := strconv.ParseInt(string(c), 10, 32)
			if perr != nil {
				err = perr
				return
			}
			ev.Code = int(n)
		default:
			err = errRefType
			return
		}
		if reason, err = refString(sub, "reason"); err != nil {
			return
		}
		if message, err = refString(sub, "message"); err != nil {
			return
		}
	}
	ev.Reason = reason
	if reason == "" {
		if len(message) > 200 {
			cut := 200
			for cut > 0 && !utf8.RuneStart(message[cut]) {
				cut--
			}
			message = message[:cut] + "..."
		}
		ev.Reason = message
	}
	if ev.Received, err = refTime(m, "requestReceivedTimestamp"); err != nil {
		return
	}
	if ev.Time, err = refTime(m, "stageTimestamp"); err != nil {
		return
	}
	if sub, err = refObject(m, "annotations"); err != nil {
		return
	}
	if sub != nil {
		if ev.Decision, err = refString(sub, "authorization.k8s.io/decision"); err != nil {
			return
		}
		if ev.AuthzReason, err = refString(sub, "authorization.k8s.io/reason"); err != nil {
			return
		}
	}
	if ev.Resource == "" && uri != "" {
		p, _, _ := strings.Cut(uri, "?")
		if strings.Contains(p, "%") {
			if u, uerr := url.PathUnescape(p); uerr == nil {
				p = u
			}
		}
		ev.Path = p
	}
	return
}

// diffRequest describes the differences between two APIRequests, ignoring
// the bodies; "" if they are equal.
func diffRequest(got, want *event.APIRequest) string {
	var d []string
	cmp := func(name string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			d = append(d, fmt.Sprintf("%s: got %q, want %q", name, fmt.Sprint(g), fmt.Sprint(w)))
		}
	}
	cmp("AuditID", got.AuditID, want.AuditID)
	cmp("Stage", got.Stage, want.Stage)
	cmp("Level", got.Level, want.Level)
	if !got.Time.Equal(want.Time) {
		d = append(d, fmt.Sprintf("Time: got %v, want %v", got.Time, want.Time))
	}
	if !got.Received.Equal(want.Received) {
		d = append(d, fmt.Sprintf("Received: got %v, want %v", got.Received, want.Received))
	}
	cmp("User.Username", got.User.Username, want.User.Username)
	cmp("User.UID", got.User.UID, want.User.UID)
	cmp("User.Groups", fmt.Sprintf("%q", got.User.Groups), fmt.Sprintf("%q", want.User.Groups))
	cmp("Impersonated.Username", got.Impersonated.Username, want.Impersonated.Username)
	cmp("Impersonated.UID", got.Impersonated.UID, want.Impersonated.UID)
	cmp("Impersonated.Groups", fmt.Sprintf("%q", got.Impersonated.Groups), fmt.Sprintf("%q", want.Impersonated.Groups))
	cmp("SourceIPs", fmt.Sprintf("%q", got.SourceIPs), fmt.Sprintf("%q", want.SourceIPs))
	cmp("UserAgent", got.UserAgent, want.UserAgent)
	cmp("Verb", got.Verb, want.Verb)
	cmp("RequestURI", got.RequestURI, want.RequestURI)
	cmp("APIGroup", got.APIGroup, want.APIGroup)
	cmp("APIVersion", got.APIVersion, want.APIVersion)
	cmp("Resource", got.Resource, want.Resource)
	cmp("Subresource", got.Subresource, want.Subresource)
	cmp("Namespace", got.Namespace, want.Namespace)
	cmp("Name", got.Name, want.Name)
	cmp("Path", got.Path, want.Path)
	cmp("Code", got.Code, want.Code)
	cmp("Reason", got.Reason, want.Reason)
	cmp("Decision", got.Decision, want.Decision)
	cmp("AuthzReason", got.AuthzReason, want.AuthzReason)
	return strings.Join(d, "; ")
}

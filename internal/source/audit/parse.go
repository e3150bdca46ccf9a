package audit

import (
	"strconv"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// This file is the field parser: one pass over an audit.k8s.io/v1 Event
// object (or an EventList envelope), filling d.req directly. Fields the
// decoder does not use are validated and skipped without being decoded.
//
// Semantics shared with the reference decoder in the tests:
//   - keys match exactly (case-sensitive), after unescaping;
//   - null is accepted for every field and means "absent";
//   - a repeated key replaces the earlier value entirely (for objects too);
//   - only the fields read are type-checked.

// span is a byte range [start, end) in a buffer.
type span struct{ start, end int }

func (s span) empty() bool { return s.end <= s.start }

// record is what the parser finds besides the APIRequest fields.
type record struct {
	kind, apiVersion string
	items            span // raw items value, when hasItems
	hasItems         bool
	reqObj, respObj  span // raw bodies in the parsed buffer, when KeepObjects
	auditID, uri     span // in d.arena
	msg              span // responseStatus.message, in d.arena
	reason           string
}

// Known values of audit.k8s.io/v1 fields.
const (
	apiVersionV1 = "audit.k8s.io/v1"
	kindEvent    = "Event"
	kindList     = "EventList"

	annDecision = "authorization.k8s.io/decision"
	annReason   = "authorization.k8s.io/reason"
)

// typeName names the JSON type of the value starting with c, or returns ""
// if c cannot start a value.
func typeName(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || isDigit(c):
		return "a number"
	}
	return ""
}

// typeError reports a value of the wrong type, or a syntax error if b[i]
// cannot start a value at all.
func typeError(b []byte, i int, field, want string) error {
	if i >= len(b) {
		return errEnd
	}
	got := typeName(b[i])
	if got == "" {
		return synErr(i, "invalid character %s looking for a value", quoteChar(b, i))
	}
	return newFieldError(field, i, ErrField, "expected %s, found %s", want, got)
}

// nextMember advances to the next member of an object. i is just past '{'
// (first) or just past the previous value. It returns the unescaped key
// (valid until the next call) and the index of the value, or done and the
// index past '}'.
func (d *Decoder) nextMember(b []byte, i int, first bool) (key []byte, vi int, done bool, err error) {
	i = skipWS(b, i)
	if i >= len(b) {
		return nil, i, false, errEnd
	}
	switch c := b[i]; {
	case c == '}' && first:
		return nil, i + 1, true, nil
	case first:
	case c == '}':
		return nil, i + 1, true, nil
	case c == ',':
		i = skipWS(b, i+1)
		if i >= len(b) {
			return nil, i, false, errEnd
		}
	default:
		return nil, i, false, synErr(i, "invalid character %s after object member, expected ',' or '}'", quoteChar(b, i))
	}
	if b[i] != '"' {
		return nil, i, false, synErr(i, "invalid character %s looking for an object key", quoteChar(b, i))
	}
	end, flags, err := scanString(b, i)
	if err != nil {
		return nil, end, false, err
	}
	key = b[i+1 : end-1]
	if flags != 0 {
		d.keyBuf = appendUnquoted(d.keyBuf[:0], key, flags)
		key = d.keyBuf
	}
	i = skipWS(b, end)
	if i >= len(b) {
		return nil, i, false, errEnd
	}
	if b[i] != ':' {
		return nil, i, false, synErr(i, "invalid character %s after object key", quoteChar(b, i))
	}
	i = skipWS(b, i+1)
	if i >= len(b) {
		return nil, i, false, errEnd
	}
	return key, i, false, nil
}

// str reads a string or null at b[i]. The bytes returned are valid until the
// next call; null gives nil.
func (d *Decoder) str(b []byte, i int, field string) ([]byte, int, error) {
	if i < len(b) && b[i] == '"' {
		end, flags, err := scanString(b, i)
		if err != nil {
			return nil, end, err
		}
		raw := b[i+1 : end-1]
		if flags == 0 {
			return raw, end, nil
		}
		d.strBuf = appendUnquoted(d.strBuf[:0], raw, flags)
		return d.strBuf, end, nil
	}
	if isNull(b, i) {
		return nil, i + 4, nil
	}
	return nil, i, typeError(b, i, field, "a string")
}

// internStr reads a string field and interns it.
func (d *Decoder) internStr(b []byte, i int, field string, dst *string) (int, error) {
	v, end, err := d.str(b, i, field)
	*dst = d.strs.str(v)
	return end, err
}

// arenaStr reads a high-cardinality string field into the per-record arena.
func (d *Decoder) arenaStr(b []byte, i int, field string, dst *span) (int, error) {
	v, end, err := d.str(b, i, field)
	start := len(d.arena)
	d.arena = append(d.arena, v...)
	*dst = span{start, len(d.arena)}
	return end, err
}

// parseRecord parses the Event (or EventList envelope) object at b[i], which
// sits inside depth containers, into d.req and d.rec.
func (d *Decoder) parseRecord(b []byte, i, depth int) (int, error) {
	d.resetRecord()
	if i >= len(b) {
		return i, errEnd
	}
	if b[i] != '{' {
		return i, typeError(b, i, "", "a JSON object")
	}
	r, rec := &d.req, &d.rec
	i++
	for first := true; ; first = false {
		key, vi, done, err := d.nextMember(b, i, first)
		if err != nil || done {
			return vi, err
		}
		i = vi
		switch string(key) {
		case "kind":
			d.field = "kind"
			i, err = d.internStr(b, i, d.field, &rec.kind)
		case "apiVersion":
			d.field = "apiVersion"
			i, err = d.internStr(b, i, d.field, &rec.apiVersion)
		case "level":
			d.field = "level"
			i, err = d.internStr(b, i, d.field, &r.Level)
		case "auditID":
			d.field = "auditID"
			i, err = d.arenaStr(b, i, d.field, &rec.auditID)
		case "stage":
			d.field = "stage"
			i, err = d.internStr(b, i, d.field, &r.Stage)
		case "requestURI":
			d.field = "requestURI"
			i, err = d.arenaStr(b, i, d.field, &rec.uri)
		case "verb":
			d.field = "verb"
			i, err = d.internStr(b, i, d.field, &r.Verb)
		case "user":
			d.field = "user"
			i, err = d.identity(b, i, depth+1, &r.User, false)
		case "impersonatedUser":
			d.field = "impersonatedUser"
			i, err = d.identity(b, i, depth+1, &r.Impersonated, true)
		case "sourceIPs":
			d.field = "sourceIPs"
			r.SourceIPs, i, err = d.strList(b, i, depth+1)
		case "userAgent":
			d.field = "userAgent"
			i, err = d.internStr(b, i, d.field, &r.UserAgent)
		case "objectRef":
			d.field = "objectRef"
			i, err = d.objectRef(b, i, depth+1)
		case "responseStatus":
			d.field = "responseStatus"
			i, err = d.responseStatus(b, i, depth+1)
		case "requestObject":
			d.field = "requestObject"
			rec.reqObj, i, err = d.body(b, i, depth+1)
		case "responseObject":
			d.field = "responseObject"
			rec.respObj, i, err = d.body(b, i, depth+1)
		case "requestReceivedTimestamp":
			d.field = "requestReceivedTimestamp"
			i, err = d.timestamp(b, i, &r.Received)
		case "stageTimestamp":
			d.field = "stageTimestamp"
			i, err = d.timestamp(b, i, &r.Time)
		case "annotations":
			d.field = "annotations"
			i, err = d.annotations(b, i, depth+1)
		case "items":
			d.field = "items"
			start := i
			i, err = d.sc.skipValue(b, i, depth+1)
			rec.items, rec.hasItems = span{start, i}, !isNull(b, start)
		default:
			d.field = ""
			i, err = d.sc.skipValue(b, i, depth+1)
		}
		if err != nil {
			return i, err
		}
	}
}

// resetRecord clears d.req and d.rec for the next record.
func (d *Decoder) resetRecord() {
	d.req = event.APIRequest{}
	d.rec = record{}
	d.arena = d.arena[:0]
	d.field = ""
}

// identity parses user or impersonatedUser (authentication/v1 UserInfo).
func (d *Decoder) identity(b []byte, i, depth int, id *event.Identity, impersonated bool) (int, error) {
	*id = event.Identity{}
	outer, fUser, fUID, fGroups := "user", "user.username", "user.uid", "user.groups"
	if impersonated {
		outer, fUser, fUID, fGroups = "impersonatedUser", "impersonatedUser.username", "impersonatedUser.uid", "impersonatedUser.groups"
	}
	if isNull(b, i) {
		return i + 4, nil
	}
	if b[i] != '{' {
		return i, typeError(b, i, d.field, "an object")
	}
	i++
	for first := true; ; first = false {
		key, vi, done, err := d.nextMember(b, i, first)
		if err != nil || done {
			d.field = outer
			return vi, err
		}
		i = vi
		switch string(key) {
		case "username":
			d.field = fUser
			i, err = d.internStr(b, i, d.field, &id.Username)
		case "uid":
			d.field = fUID
			i, err = d.internStr(b, i, d.field, &id.UID)
		case "groups":
			d.field = fGroups
			id.Groups, i, err = d.strList(b, i, depth+1)
		default:
			d.field = outer
			i, err = d.sc.skipValue(b, i, depth+1)
		}
		if err != nil {
			return i, err
		}
	}
}

// strList reads an array of strings (null elements read as ""). Lists are
// interned by their raw JSON text: a user's groups or a client's source IPs
// are decoded once.
func (d *Decoder) strList(b []byte, i, depth int) ([]string, int, error) {
	if isNull(b, i) {
		return nil, i + 4, nil
	}
	if b[i] != '[' {
		return nil, i, typeError(b, i, d.field, "an array of strings")
	}
	var err error
	end, ok := scanStringArray(b, i)
	if !ok {
		if end, err = d.sc.skipValue(b, i, depth); err != nil {
			return nil, end, err
		}
	}
	raw := b[i:end]
	if l, ok := d.lists.get(raw); ok {
		return l, end, nil
	}
	var l []string
	j := skipWS(b, i+1)
	for n := 0; b[j] != ']'; n++ {
		var v []byte
		if v, j, err = d.str(b, j, d.field); err != nil {
			if fe, ok := err.(*fieldError); ok {
				fe.msg = "element " + strconv.Itoa(n) + ": " + fe.msg
			}
			return nil, j, err
		}
		l = append(l, d.strs.str(v))
		if j = skipWS(b, j); b[j] == ',' {
			j = skipWS(b, j+1)
		}
	}
	l = l[:len(l):len(l)]
	d.lists.put(raw, l)
	return l, end, nil
}

// scanStringArray skips a well-formed array of strings at b[i] == '['
// without the general scanner. ok is false if the array holds anything else
// or is malformed; the caller then validates it the general way.
func scanStringArray(b []byte, i int) (end int, ok bool) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for i < len(b) && b[i] == '"' {
		e, _, err := scanString(b, i)
		if err != nil {
			return 0, false
		}
		if i = skipWS(b, e); i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ']':
			return i + 1, true
		case ',':
			i = skipWS(b, i+1)
		default:
			return 0, false
		}
	}
	return 0, false
}

// objectRef parses the objectRef (audit ObjectReference).
func (d *Decoder) objectRef(b []byte, i, depth int) (int, error) {
	r := &d.req
	r.APIGroup, r.APIVersion, r.Resource, r.Subresource, r.Namespace, r.Name = "", "", "", "", "", ""
	if isNull(b, i) {
		return i + 4, nil
	}
	if b[i] != '{' {
		return i, typeError(b, i, d.field, "an object")
	}
	i++
	for first := true; ; first = false {
		key, vi, done, err := d.nextMember(b, i, first)
		if err != nil || done {
			d.field = "objectRef"
			return vi, err
		}
		i = vi
		var dst *string
		switch string(key) {
		case "resource":
			dst, d.field = &r.Resource, "objectRef.resource"
		case "namespace":
			dst, d.field = &r.Namespace, "objectRef.namespace"
		case "name":
			dst, d.field = &r.Name, "objectRef.name"
		case "apiGroup":
			dst, d.field = &r.APIGroup, "objectRef.apiGroup"
		case "apiVersion":
			dst, d.field = &r.APIVersion, "objectRef.apiVersion"
		case "subresource":
			dst, d.field = &r.Subresource, "objectRef.subresource"
		}
		if dst != nil {
			i, err = d.internStr(b, i, d.field, dst)
		} else {
			d.field = "objectRef"
			i, err = d.sc.skipValue(b, i, depth+1)
		}
		if err != nil {
			return i, err
		}
	}
}

// responseStatus parses code, reason and message of responseStatus
// (metav1.Status).
func (d *Decoder) responseStatus(b []byte, i, depth int) (int, error) {
	d.req.Code, d.rec.reason, d.rec.msg = 0, "", span{}
	if isNull(b, i) {
		return i + 4, nil
	}
	if b[i] != '{' {
		return i, typeError(b, i, d.field, "an object")
	}
	i++
	for first := true; ; first = false {
		key, vi, done, err := d.nextMember(b, i, first)
		if err != nil || done {
			d.field = "responseStatus"
			return vi, err
		}
		i = vi
		switch string(key) {
		case "code":
			d.field = "responseStatus.code"
			d.req.Code, i, err = d.int32Val(b, i)
		case "reason":
			d.field = "responseStatus.reason"
			i, err = d.internStr(b, i, d.field, &d.rec.reason)
		case "message":
			d.field = "responseStatus.message"
			i, err = d.arenaStr(b, i, d.field, &d.rec.msg)
		default:
			d.field = "responseStatus"
			i, err = d.sc.skipValue(b, i, depth+1)
		}
		if err != nil {
			return i, err
		}
	}
}

// int32Val reads an integer that fits in int32 (responseStatus.code is an
// int32 upstream), or null.
func (d *Decoder) int32Val(b []byte, i int) (int, int, error) {
	if isNull(b, i) {
		return 0, i + 4, nil
	}
	if c := b[i]; c != '-' && !isDigit(c) {
		return 0, i, typeError(b, i, d.field, "an integer")
	}
	end, err := scanNumber(b, i)
	if err != nil {
		return 0, end, err
	}
	num, neg := b[i:end], false
	if num[0] == '-' {
		num, neg = num[1:], true
	}
	var n int64
	for _, c := range num {
		if !isDigit(c) {
			return 0, end, newFieldError(d.field, i, ErrField, "%s is not an integer", clip(b[i:end]))
		}
		if n = n*10 + int64(c-'0'); n > 1<<31 {
			break
		}
	}
	if neg {
		n = -n
	}
	if n > 1<<31-1 || n < -1<<31 {
		return 0, end, newFieldError(d.field, i, ErrField, "%s is out of range for a 32-bit integer", clip(b[i:end]))
	}
	return int(n), end, nil
}

// timestamp reads an RFC 3339 timestamp, null or "" (zero time).
func (d *Decoder) timestamp(b []byte, i int, dst *time.Time) (int, error) {
	v, end, err := d.str(b, i, d.field)
	if err != nil {
		return end, err
	}
	if len(v) == 0 {
		*dst = time.Time{}
		return end, nil
	}
	t, perr := parseTime(v)
	if perr != nil {
		fe := newFieldError(d.field, i, ErrField, "invalid timestamp %q: want RFC 3339, e.g. 2006-01-02T15:04:05.000000Z", clip(v))
		fe.cause = perr
		return end, fe
	}
	*dst = t
	return end, nil
}

// annotations reads the authorization decision and reason annotations.
func (d *Decoder) annotations(b []byte, i, depth int) (int, error) {
	d.req.Decision, d.req.AuthzReason = "", ""
	if isNull(b, i) {
		return i + 4, nil
	}
	if b[i] != '{' {
		return i, typeError(b, i, d.field, "an object")
	}
	i++
	for first := true; ; first = false {
		key, vi, done, err := d.nextMember(b, i, first)
		if err != nil || done {
			d.field = "annotations"
			return vi, err
		}
		i = vi
		switch string(key) {
		case annDecision:
			d.field = "annotations." + annDecision
			i, err = d.internStr(b, i, d.field, &d.req.Decision)
		case annReason:
			d.field = "annotations." + annReason
			i, err = d.internStr(b, i, d.field, &d.req.AuthzReason)
		default:
			d.field = "annotations"
			i, err = d.sc.skipValue(b, i, depth+1)
		}
		if err != nil {
			return i, err
		}
	}
}

// body validates a request or response body and returns its span when
// bodies are kept; null gives an empty span.
func (d *Decoder) body(b []byte, i, depth int) (span, int, error) {
	if isNull(b, i) {
		return span{}, i + 4, nil
	}
	end, err := d.sc.skipValue(b, i, depth)
	if err != nil || !d.opts.KeepObjects {
		return span{}, end, err
	}
	return span{i, end}, end, nil
}

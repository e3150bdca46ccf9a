package audit

import "slices"

// Redaction of request and response bodies. Secret values never leave the
// decoder: when Options.KeepObjects is set, a body is copied (compacted)
// with these values replaced by "<redacted>" — replaced, not removed, so the
// evidence still shows that a value was there:
//
//   - in a Secret (an object whose kind is Secret, or SecretList, at any depth,
//     e.g. inside a List; or the whole body when objectRef.resource is
//     "secrets", which covers patches and tables that carry no kind):
//     every value of data and stringData (the keys are kept), the
//     kubectl.kubernetes.io/last-applied-configuration annotation, and
//     JSON-patch "value" members;
//   - anywhere: string values (or strings in an array value) of the keys
//     token (TokenRequest status.token, TokenReview spec.token), password,
//     bearerToken, clientKeyData, client-key-data and privateKey.
//
// Keys and kinds are compared after unescaping and ignoring ASCII case, the
// way lenient JSON decoders match them. Values nested deeper than
// maxRedactDepth are replaced as a whole.

const (
	redactedValue  = `"<redacted>"`
	redactedDeep   = `"<redacted: nested too deep>"`
	redactedBroken = `"<redacted: malformed body>"`
	maxRedactDepth = 1000
)

type keyClass uint8

const (
	keyOther       keyClass = iota
	keySecretMap            // data, stringData
	keySecretValue          // last-applied-configuration, JSON patch value
	keySensitive            // token, password, ...
)

func classifyKey(k []byte) keyClass {
	switch {
	case foldEq(k, "data"), foldEq(k, "stringData"):
		return keySecretMap
	case foldEq(k, "value"), foldEq(k, "kubectl.kubernetes.io/last-applied-configuration"):
		return keySecretValue
	case foldEq(k, "token"), foldEq(k, "password"), foldEq(k, "bearerToken"),
		foldEq(k, "clientKeyData"), foldEq(k, "client-key-data"), foldEq(k, "privateKey"):
		return keySensitive
	}
	return keyOther
}

// foldEq reports whether b equals the ASCII string s, ignoring ASCII case.
func foldEq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, t := b[i], s[i]
		if c == t {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= t && t <= 'Z' {
			t += 'a' - 'A'
		}
		if c != t {
			return false
		}
	}
	return true
}

// redactor copies JSON bodies with secret values replaced.
type redactor struct {
	out     []byte
	buf     []byte // unescaped key or kind
	secrets []int  // offsets of the objects whose kind is Secret or SecretList, sorted
	stack   []int
	sc      valueScanner
}

// redact appends the redacted, compacted copy of body to dst. body must be
// valid JSON (the parser validated it); if it is not, the whole body is
// replaced.
func (r *redactor) redact(dst, body []byte, secret bool) []byte {
	r.out = dst
	start := len(dst)
	r.markSecrets(body)
	end, err := r.value(body, skipWS(body, 0), secret, false, 0)
	if err != nil || skipWS(body, end) != len(body) {
		return append(r.out[:start], redactedBroken...)
	}
	return r.out
}

// markSecrets finds, in one pass, the objects whose kind is Secret or
// SecretList, wherever kind appears among their members, so that the copy
// that follows knows it is in a Secret before it reaches data. (Going back
// to redo an object when a late kind shows up would cost time quadratic in
// the nesting depth.)
func (r *redactor) markSecrets(b []byte) {
	r.secrets, r.stack = r.secrets[:0], r.stack[:0]
	for i := 0; i < len(b); {
		switch b[i] {
		case '{':
			r.stack = append(r.stack, i)
			i++
		case '[':
			r.stack = append(r.stack, -1)
			i++
		case '}', ']':
			if len(r.stack) > 0 {
				r.stack = r.stack[:len(r.stack)-1]
			}
			i++
		case '"':
			end, flags, err := scanString(b, i)
			if err != nil {
				return // the copy will fail on it too
			}
			j := skipWS(b, end)
			if j < len(b) && b[j] == ':' && len(r.stack) > 0 && r.stack[len(r.stack)-1] >= 0 {
				r.buf = appendUnquoted(r.buf[:0], b[i+1:end-1], flags)
				if foldEq(r.buf, "kind") {
					if k := skipWS(b, j+1); k < len(b) && b[k] == '"' {
						if vend, vflags, err := scanString(b, k); err == nil {
							r.buf = appendUnquoted(r.buf[:0], b[k+1:vend-1], vflags)
							if foldEq(r.buf, "Secret") || foldEq(r.buf, "SecretList") {
								r.secrets = append(r.secrets, r.stack[len(r.stack)-1])
							}
						}
					}
				}
			}
			i = end
		default:
			i++
		}
	}
	slices.Sort(r.secrets)
}

func (r *redactor) isSecret(objStart int) bool {
	_, found := slices.BinarySearch(r.secrets, objStart)
	return found
}

func (r *redactor) value(b []byte, i int, secret, sensitive bool, depth int) (int, error) {
	if i >= len(b) {
		return i, errEnd
	}
	if depth >= maxRedactDepth {
		r.out = append(r.out, redactedDeep...)
		return r.sc.skipValue(b, i, 0)
	}
	switch c := b[i]; {
	case c == '{':
		return r.object(b, i, secret, depth+1)
	case c == '[':
		return r.array(b, i, secret, sensitive, depth+1)
	case c == '"':
		end, _, err := scanString(b, i)
		if err != nil {
			return end, err
		}
		if sensitive {
			r.out = append(r.out, redactedValue...)
		} else {
			r.out = append(r.out, b[i:end]...)
		}
		return end, nil
	case c == 't' || c == 'f' || c == 'n':
		end, err := scanLiteral(b, i)
		r.out = append(r.out, b[i:min(end, len(b))]...)
		return end, err
	default:
		end, err := scanNumber(b, i)
		r.out = append(r.out, b[i:min(end, len(b))]...)
		return end, err
	}
}

func (r *redactor) array(b []byte, i int, secret, sensitive bool, depth int) (int, error) {
	r.out = append(r.out, '[')
	i = skipWS(b, i+1)
	for n := 0; ; n++ {
		if i >= len(b) {
			return i, errEnd
		}
		if b[i] == ']' {
			r.out = append(r.out, ']')
			return i + 1, nil
		}
		if n > 0 {
			if b[i] != ',' {
				return i, synErr(i, "expected ','")
			}
			r.out = append(r.out, ',')
			i = skipWS(b, i+1)
		}
		end, err := r.value(b, i, secret, sensitive, depth)
		if err != nil {
			return end, err
		}
		i = skipWS(b, end)
	}
}

// object copies an object; inside a Secret (or SecretList) the secret
// values are replaced.
func (r *redactor) object(b []byte, i int, secret bool, depth int) (int, error) {
	secret = secret || r.isSecret(i)
	r.out = append(r.out, '{')
	i = skipWS(b, i+1)
	for n := 0; ; n++ {
		if i >= len(b) {
			return i, errEnd
		}
		if b[i] == '}' {
			r.out = append(r.out, '}')
			return i + 1, nil
		}
		if n > 0 {
			if b[i] != ',' {
				return i, synErr(i, "expected ','")
			}
			r.out = append(r.out, ',')
			i = skipWS(b, i+1)
		}
		if i >= len(b) || b[i] != '"' {
			return i, synErr(i, "expected key")
		}
		ke, flags, err := scanString(b, i)
		if err != nil {
			return ke, err
		}
		key := b[i+1 : ke-1]
		if flags != 0 {
			r.buf = appendUnquoted(r.buf[:0], key, flags)
			key = r.buf
		}
		cls := classifyKey(key)
		r.out = append(r.out, b[i:ke]...)
		r.out = append(r.out, ':')
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return i, synErr(i, "expected ':'")
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return i, errEnd
		}
		var end int
		switch {
		case secret && cls == keySecretMap:
			end, err = r.secretMap(b, i)
		case secret && cls == keySecretValue:
			end, err = r.replace(b, i)
		default:
			end, err = r.value(b, i, secret, cls == keySensitive, depth)
		}
		if err != nil {
			return end, err
		}
		i = skipWS(b, end)
	}
}

// replace writes "<redacted>" for the value at b[i] (null stays null).
func (r *redactor) replace(b []byte, i int) (int, error) {
	if isNull(b, i) {
		r.out = append(r.out, "null"...)
		return i + 4, nil
	}
	r.out = append(r.out, redactedValue...)
	return r.sc.skipValue(b, i, 0)
}

// secretMap writes a Secret's data or stringData with every value replaced
// and the keys kept.
func (r *redactor) secretMap(b []byte, i int) (int, error) {
	if b[i] != '{' {
		return r.replace(b, i)
	}
	r.out = append(r.out, '{')
	i = skipWS(b, i+1)
	for n := 0; ; n++ {
		if i >= len(b) {
			return i, errEnd
		}
		if b[i] == '}' {
			r.out = append(r.out, '}')
			return i + 1, nil
		}
		if n > 0 {
			if b[i] != ',' {
				return i, synErr(i, "expected ','")
			}
			r.out = append(r.out, ',')
			i = skipWS(b, i+1)
		}
		if i >= len(b) || b[i] != '"' {
			return i, synErr(i, "expected key")
		}
		ke, _, err := scanString(b, i)
		if err != nil {
			return ke, err
		}
		r.out = append(r.out, b[i:ke]...)
		r.out = append(r.out, ':')
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return i, synErr(i, "expected ':'")
		}
		end, err := r.replace(b, skipWS(b, i+1))
		if err != nil {
			return end, err
		}
		i = skipWS(b, end)
	}
}

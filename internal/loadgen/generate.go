package loadgen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// generator turns template events into unique ones cheaply: each template
// is cut around its auditID and the date part of its two timestamps, which
// are the only bytes rewritten per copy.
type generator struct {
	tpl   []template
	ids   int // distinct auditIDs of the templates
	nonce uint32
}

type template struct {
	parts [][]byte // the bytes between the cuts
	cuts  []cut    // what goes in each cut, in order
	id    int      // index of the template's auditID among the distinct ones
}

type cutKind uint8

const (
	cutID cutKind = iota
	cutDate
)

type cut struct {
	kind cutKind
	date time.Time // of a cutDate
}

// newGenerator prepares the templates: JSON objects of audit events with an
// auditID and RFC 3339 timestamps.
func newGenerator(lines [][]byte) (*generator, error) {
	g := &generator{nonce: rand.Uint32()}
	ids := map[string]int{}
	for i, l := range lines {
		t, id, err := cutTemplate(l)
		if err != nil {
			return nil, fmt.Errorf("%w: template %d: %w", ErrConfig, i, err)
		}
		k, ok := ids[id]
		if !ok {
			k = len(ids)
			ids[id] = k
		}
		t.id = k
		g.tpl = append(g.tpl, t)
	}
	g.ids = len(ids)
	if len(g.tpl) == 0 {
		return nil, fmt.Errorf("%w: no template event", ErrConfig)
	}
	return g, nil
}

func cutTemplate(l []byte) (template, string, error) {
	type pos struct {
		at, n int
		kind  cutKind
		date  time.Time
	}
	var cuts []pos
	var id string
	if i := bytes.Index(l, []byte(`"auditID":"`)); i >= 0 {
		s := i + len(`"auditID":"`)
		e := bytes.IndexByte(l[s:], '"')
		if e < 0 {
			return template{}, "", fmt.Errorf("unterminated auditID")
		}
		id = string(l[s : s+e])
		cuts = append(cuts, pos{at: s, n: e, kind: cutID})
	} else {
		return template{}, "", fmt.Errorf("no auditID")
	}
	for _, f := range []string{`"requestReceivedTimestamp":"`, `"stageTimestamp":"`} {
		i := bytes.Index(l, []byte(f))
		if i < 0 {
			continue
		}
		s := i + len(f)
		if len(l) < s+10 {
			return template{}, "", fmt.Errorf("short %s", f)
		}
		d, err := time.Parse("2006-01-02", string(l[s:s+10]))
		if err != nil {
			return template{}, "", fmt.Errorf("%s: %w", f, err)
		}
		cuts = append(cuts, pos{s, 10, cutDate, d})
	}
	// Order by position.
	for i := 1; i < len(cuts); i++ {
		for j := i; j > 0 && cuts[j].at < cuts[j-1].at; j-- {
			cuts[j], cuts[j-1] = cuts[j-1], cuts[j]
		}
	}
	var t template
	prev := 0
	for _, c := range cuts {
		t.parts = append(t.parts, bytes.Clone(l[prev:c.at]))
		t.cuts = append(t.cuts, cut{c.kind, c.date})
		prev = c.at + c.n
	}
	t.parts = append(t.parts, bytes.Clone(l[prev:]))
	return t, id, nil
}

// batch writes the EventList of events [from, from+n) to buf.
func (g *generator) batch(buf *bytes.Buffer, from int64, n int) {
	buf.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	var scratch [64]byte
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		k := from + int64(i)
		t := &g.tpl[k%int64(len(g.tpl))]
		pass := k / int64(len(g.tpl))
		for j, p := range t.parts {
			buf.Write(p)
			if j == len(t.cuts) {
				break
			}
			switch t.cuts[j].kind {
			case cutID:
				buf.Write(g.uuid(scratch[:0], pass, t.id))
			case cutDate:
				buf.Write(t.cuts[j].date.AddDate(0, 0, int(pass)).AppendFormat(scratch[:0], "2006-01-02"))
			}
		}
	}
	buf.WriteString("]}")
}

// uuid formats a unique version-4-shaped id for (pass, template id).
func (g *generator) uuid(dst []byte, pass int64, id int) []byte {
	var b [16]byte
	binary.BigEndian.PutUint32(b[0:], g.nonce)
	binary.BigEndian.PutUint64(b[4:], uint64(pass))
	binary.BigEndian.PutUint32(b[12:], uint32(id))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[x>>4], hex[x&15])
	}
	return dst
}

// ReadTemplates reads audit events, one JSON object per line, optionally
// gzip-compressed (a log backend file such as examples/audit.jsonl.gz or
// `kubedelta sim` output).
func ReadTemplates(path string, max int) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var out [][]byte
	for sc.Scan() && (max <= 0 || len(out) < max) {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 && l[0] == '{' {
			out = append(out, bytes.Clone(l))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no audit event", path)
	}
	return out, nil
}

// Synthesize returns n audit events of a plausible mix: controllers and
// kubelets reading and updating, workloads polling the API, a few people,
// leases, watches, a few denials; each a ResponseComplete event at the
// Metadata level, spread over a day.
func Synthesize(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	type actor struct {
		user, agent, ip string
		groups          string
	}
	var actors []actor
	for i := range 8 {
		actors = append(actors, actor{fmt.Sprintf("system:node:worker-%d", i), "kubelet/v1.37.2", fmt.Sprintf("10.0.0.%d", 10+i), `"system:nodes","system:authenticated"`})
	}
	for _, c := range []string{"deployment-controller", "replicaset-controller", "endpointslice-controller", "job-controller", "namespace-controller"} {
		actors = append(actors, actor{"system:serviceaccount:kube-system:" + c, "kube-controller-manager/v1.37.2", "10.0.0.2", `"system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"`})
	}
	for i, ns := range []string{"shop", "data", "ci", "monitoring", "payments", "search"} {
		actors = append(actors, actor{"system:serviceaccount:" + ns + ":app", "app/1.0", fmt.Sprintf("10.244.%d.%d", i, 20+i), `"system:serviceaccounts","system:serviceaccounts:` + ns + `","system:authenticated"`})
	}
	actors = append(actors, actor{"alice@example.com", "kubectl/v1.37.2", "192.0.2.10", `"developers","system:authenticated"`})
	namespaces := []string{"shop", "data", "ci", "monitoring", "payments", "search", "kube-system", "default"}
	type call struct{ verb, group, version, resource, sub string }
	calls := []call{
		{"get", "", "v1", "pods", ""}, {"list", "", "v1", "pods", ""}, {"watch", "", "v1", "pods", ""},
		{"update", "", "v1", "pods", "status"}, {"get", "", "v1", "configmaps", ""}, {"list", "", "v1", "services", ""},
		{"update", "coordination.k8s.io", "v1", "leases", ""}, {"get", "coordination.k8s.io", "v1", "leases", ""},
		{"list", "apps", "v1", "deployments", ""}, {"update", "apps", "v1", "replicasets", "status"},
		{"create", "", "v1", "events", ""}, {"get", "", "v1", "secrets", ""}, {"list", "discovery.k8s.io", "v1", "endpointslices", ""},
	}
	start := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, 0, n)
	for i := range n {
		a := actors[rng.IntN(len(actors))]
		c := calls[rng.IntN(len(calls))]
		ns := namespaces[rng.IntN(len(namespaces))]
		code := 200
		if rng.IntN(200) == 0 {
			code = 403
		}
		at := start.Add(time.Duration(float64(24*time.Hour) * float64(i) / float64(n)))
		name := ""
		uri := "/api"
		if c.group != "" {
			uri = "/apis/" + c.group
		}
		uri += "/" + c.version + "/namespaces/" + ns + "/" + c.resource
		if c.verb != "list" && c.verb != "watch" && c.verb != "create" {
			name = fmt.Sprintf("%s-%d", c.resource[:len(c.resource)-1], rng.IntN(50))
			uri += "/" + name
			if c.sub != "" {
				uri += "/" + c.sub
			}
		}
		if c.verb == "watch" {
			uri += "?watch=true"
		}
		obj := `"objectRef":{"resource":"` + c.resource + `","namespace":"` + ns + `"`
		if name != "" {
			obj += `,"name":"` + name + `"`
		}
		if c.group != "" {
			obj += `,"apiGroup":"` + c.group + `"`
		}
		if c.sub != "" {
			obj += `,"subresource":"` + c.sub + `"`
		}
		obj += `,"apiVersion":"` + c.version + `"}`
		ts := at.Format("2006-01-02T15:04:05.000000Z")
		line := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"` +
			fmt.Sprintf("%08x-0000-4000-8000-%012x", seed, i) + `","stage":"ResponseComplete","requestURI":` + strconv.Quote(uri) +
			`,"verb":"` + c.verb + `","user":{"username":"` + a.user + `","groups":[` + a.groups + `]},"sourceIPs":["` + a.ip +
			`"],"userAgent":"` + a.agent + `",` + obj + `,"responseStatus":{"metadata":{},"code":` + strconv.Itoa(code) +
			`},"requestReceivedTimestamp":"` + ts + `","stageTimestamp":"` + ts + `"}`
		out = append(out, []byte(line))
	}
	return out
}

package baseline

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"
)

// Format identifiers of a saved baseline (docs/formats/baseline.md).
const (
	FileAPIVersion = "kubedelta.io/v1alpha1"
	FileKind       = "Baseline"
)

// ErrFormat is returned for a file that is not a baseline this version reads.
var ErrFormat = errors.New("not a kubedelta baseline")

// The file form: maps become sorted lists, so the same baseline is the same
// bytes (reproducible, comparable by hash).
type fileBaseline struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Start      time.Time       `json:"start"`
	End        time.Time       `json:"end"`
	Subjects   []fileSubject   `json:"subjects"`
	Workloads  []fileWorkload  `json:"workloads"`
	Namespaces []fileNamespace `json:"namespaces"`
	Registries []fileNamed     `json:"registries"`
}

type fileStat struct {
	Count uint64    `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

func toFile(s Stat) fileStat   { return fileStat(s) }
func fromFile(s fileStat) Stat { return Stat(s) }

type fileNamed struct {
	Name string `json:"name"`
	fileStat
}

type fileCall struct {
	CallKey
	fileStat
}

type fileSubject struct {
	User      string      `json:"user"`
	Seen      fileStat    `json:"seen"`
	Calls     []fileCall  `json:"calls"`
	Agents    []fileNamed `json:"agents"`
	SourceIPs []fileNamed `json:"sourceIPs"`
}

type fileEdge struct {
	Peer     string `json:"peer"`
	Port     uint16 `json:"port"`
	Protocol uint8  `json:"protocol"`
	fileStat
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
}

type fileProcess struct {
	ProcessKey
	fileStat
}

type fileWorkload struct {
	Workload  string        `json:"workload"`
	Seen      fileStat      `json:"seen"`
	Egress    []fileEdge    `json:"egress"`
	Ingress   []fileEdge    `json:"ingress"`
	Processes []fileProcess `json:"processes"`
}

type fileImage struct {
	Registry   string      `json:"registry"`
	Repository string      `json:"repository"`
	Versions   []fileNamed `json:"versions"`
}

type fileNamespace struct {
	Namespace string      `json:"namespace"`
	Workloads []fileNamed `json:"workloads"`
	Images    []fileImage `json:"images"`
}

func named[K comparable](m map[K]*Stat, key func(K) string) []fileNamed {
	out := make([]fileNamed, 0, len(m))
	for k, s := range m {
		out = append(out, fileNamed{Name: key(k), fileStat: toFile(*s)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func edges(m map[EdgeKey]*EdgeStat) []fileEdge {
	out := make([]fileEdge, 0, len(m))
	for k, s := range m {
		out = append(out, fileEdge{Peer: k.Peer, Port: k.Port, Protocol: k.Protocol, fileStat: toFile(s.Stat), Bytes: s.Bytes, Packets: s.Packets})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Peer != b.Peer {
			return a.Peer < b.Peer
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		return a.Protocol < b.Protocol
	})
	return out
}

func str(s string) string { return s }

// Save writes p in the versioned JSON format; gzip-compressed when gz.
func (p *Profiles) Save(w io.Writer, gz bool) error {
	f := fileBaseline{APIVersion: FileAPIVersion, Kind: FileKind, Start: p.Start, End: p.End}
	for user, sp := range p.Subjects {
		fs := fileSubject{User: user, Seen: toFile(sp.Seen),
			Agents:    named(sp.Agents, str),
			SourceIPs: named(sp.SourceIPs, netip.Addr.String)}
		for k, s := range sp.Calls {
			fs.Calls = append(fs.Calls, fileCall{CallKey: k, fileStat: toFile(*s)})
		}
		sort.Slice(fs.Calls, func(i, j int) bool {
			a, b := fs.Calls[i].CallKey, fs.Calls[j].CallKey
			return strings.Join([]string{a.Namespace, a.APIGroup, a.Resource, a.Subresource, a.Verb}, "\x00") <
				strings.Join([]string{b.Namespace, b.APIGroup, b.Resource, b.Subresource, b.Verb}, "\x00")
		})
		f.Subjects = append(f.Subjects, fs)
	}
	sort.Slice(f.Subjects, func(i, j int) bool { return f.Subjects[i].User < f.Subjects[j].User })
	for name, wp := range p.Workloads {
		fw := fileWorkload{Workload: name, Seen: toFile(wp.Seen), Egress: edges(wp.Egress), Ingress: edges(wp.Ingress)}
		for k, s := range wp.Processes {
			fw.Processes = append(fw.Processes, fileProcess{ProcessKey: k, fileStat: toFile(*s)})
		}
		sort.Slice(fw.Processes, func(i, j int) bool {
			a, b := fw.Processes[i].ProcessKey, fw.Processes[j].ProcessKey
			return a.Container+"\x00"+a.Executable+"\x00"+a.ArgShape < b.Container+"\x00"+b.Executable+"\x00"+b.ArgShape
		})
		f.Workloads = append(f.Workloads, fw)
	}
	sort.Slice(f.Workloads, func(i, j int) bool { return f.Workloads[i].Workload < f.Workloads[j].Workload })
	for ns, np := range p.Namespaces {
		fn := fileNamespace{Namespace: ns, Workloads: named(np.Workloads, str)}
		for k, vs := range np.Images {
			fn.Images = append(fn.Images, fileImage{Registry: k.Registry, Repository: k.Repository, Versions: named(vs, str)})
		}
		sort.Slice(fn.Images, func(i, j int) bool {
			return fn.Images[i].Registry+"/"+fn.Images[i].Repository < fn.Images[j].Registry+"/"+fn.Images[j].Repository
		})
		f.Namespaces = append(f.Namespaces, fn)
	}
	sort.Slice(f.Namespaces, func(i, j int) bool { return f.Namespaces[i].Namespace < f.Namespaces[j].Namespace })
	f.Registries = named(p.Registries, str)

	bw := bufio.NewWriter(w)
	var out io.Writer = bw
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(bw)
		out = zw
	}
	enc := json.NewEncoder(out)
	if err := enc.Encode(&f); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// SaveFile writes p to path, gzip-compressed when path ends in .gz. The file
// is written to a temporary name and renamed, so a crash never leaves a
// half-written baseline under the real name.
func (p *Profiles) SaveFile(path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := p.Save(f, strings.HasSuffix(path, ".gz")); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("saving baseline %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads a baseline written by Save (gzip detected by magic bytes).
func Load(r io.Reader, name string) (*Profiles, error) {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		in = zr
	}
	dec := json.NewDecoder(in)
	dec.DisallowUnknownFields()
	var f fileBaseline
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrFormat, err)
	}
	if f.APIVersion != FileAPIVersion || f.Kind != FileKind {
		return nil, fmt.Errorf("%s: %w: apiVersion %q kind %q (this version reads %s %s)", name, ErrFormat, f.APIVersion, f.Kind, FileAPIVersion, FileKind)
	}
	p := NewProfiles()
	p.Start, p.End = f.Start, f.End
	for _, fs := range f.Subjects {
		sp := &SubjectProfile{Seen: fromFile(fs.Seen), Calls: map[CallKey]*Stat{}, Agents: map[string]*Stat{}, SourceIPs: map[netip.Addr]*Stat{}}
		for _, c := range fs.Calls {
			s := fromFile(c.fileStat)
			sp.Calls[c.CallKey] = &s
		}
		for _, a := range fs.Agents {
			s := fromFile(a.fileStat)
			sp.Agents[a.Name] = &s
		}
		for _, a := range fs.SourceIPs {
			ip, err := netip.ParseAddr(a.Name)
			if err != nil {
				return nil, fmt.Errorf("%s: subject %q: sourceIPs: %w", name, fs.User, err)
			}
			s := fromFile(a.fileStat)
			sp.SourceIPs[ip] = &s
		}
		p.Subjects[fs.User] = sp
	}
	for _, fw := range f.Workloads {
		wp := &WorkloadProfile{Seen: fromFile(fw.Seen), Egress: map[EdgeKey]*EdgeStat{}, Ingress: map[EdgeKey]*EdgeStat{}, Processes: map[ProcessKey]*Stat{}}
		for _, e := range fw.Egress {
			wp.Egress[EdgeKey{e.Peer, e.Port, e.Protocol}] = &EdgeStat{Stat: fromFile(e.fileStat), Bytes: e.Bytes, Packets: e.Packets}
		}
		for _, e := range fw.Ingress {
			wp.Ingress[EdgeKey{e.Peer, e.Port, e.Protocol}] = &EdgeStat{Stat: fromFile(e.fileStat), Bytes: e.Bytes, Packets: e.Packets}
		}
		for _, pr := range fw.Processes {
			s := fromFile(pr.fileStat)
			wp.Processes[pr.ProcessKey] = &s
		}
		p.Workloads[fw.Workload] = wp
	}
	for _, fn := range f.Namespaces {
		np := &NamespaceProfile{Workloads: map[string]*Stat{}, Images: map[ImageKey]map[string]*Stat{}}
		for _, w := range fn.Workloads {
			s := fromFile(w.fileStat)
			np.Workloads[w.Name] = &s
		}
		for _, im := range fn.Images {
			vs := map[string]*Stat{}
			for _, v := range im.Versions {
				s := fromFile(v.fileStat)
				vs[v.Name] = &s
			}
			np.Images[ImageKey{im.Registry, im.Repository}] = vs
		}
		p.Namespaces[fn.Namespace] = np
	}
	for _, r := range f.Registries {
		s := fromFile(r.fileStat)
		p.Registries[r.Name] = &s
	}
	return p, nil
}

// LoadFile reads a baseline file.
func LoadFile(path string) (*Profiles, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Load(f, path)
}

package cluster

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// LoadOptions configures Load.
type LoadOptions struct {
	// Logger receives per-file debug records and warnings about skipped
	// objects of kept kinds at unsupported apiVersions. Nil discards.
	Logger *slog.Logger
	// Workers is how many goroutines decode the items of a large List
	// (a whole-cluster dump is one List); 0 means runtime.GOMAXPROCS(0),
	// 1 decodes sequentially. The result does not depend on it.
	Workers int
}

// Load reads every path into a new Inventory. A path is a file or a
// directory; directories are walked recursively in lexical order, reading
// files named *.yaml, *.yml, *.json and their .gz variants and skipping
// hidden files and directories (names starting with "."). A file named
// explicitly is read whatever its name.
//
// Load does not stop at the first bad document: it returns the objects it
// could read together with an error joining up to 20 *DocumentError values
// (and a count of the rest), each naming file, line, document and item.
// Callers that want all or nothing discard the inventory when err != nil.
func Load(paths []string, opts LoadOptions) (*Inventory, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	inv := &Inventory{}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	l := &loader{inv: inv, log: log, workers: workers}
	for _, p := range paths {
		files, err := inputFiles(p)
		if err != nil {
			l.report(&DocumentError{File: p, Err: err})
			continue
		}
		for _, f := range files {
			l.readFile(f)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(inv.Skipped)) {
		apiVersion, kind := splitSkipKey(key)
		if keptKind(kind) {
			log.Warn("skipped objects of a supported kind at an unsupported apiVersion",
				"apiVersion", apiVersion, "kind", kind, "count", inv.Skipped[key])
		}
	}
	if len(inv.ImplicitNamespaces) > 0 {
		log.Debug("namespaces referenced but not described", "namespaces", inv.ImplicitNamespaces)
	}
	return inv, l.err()
}

func splitSkipKey(key string) (apiVersion, kind string) {
	i := strings.LastIndexByte(key, '/')
	return key[:i], key[i+1:]
}

// LoadReader reads one input (YAML or JSON, possibly gzipped) into inv. name
// is used in error messages, normally the file's path. Objects read before
// an error are kept in inv.
func LoadReader(r io.Reader, name string, inv *Inventory) error {
	l := &loader{inv: inv, log: slog.New(slog.DiscardHandler), workers: runtime.GOMAXPROCS(0)}
	l.read(r, name)
	return l.err()
}

// inputFiles expands a path into the files to read, in lexical order.
func inputFiles(root string) ([]string, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, readError(pathless(err), false)
	}
	if !info.IsDir() {
		return []string{root}, nil
	}
	var files []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !inputName(d.Name()) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// Follow links to files (a ConfigMap volume links each key
			// into ..data); links to directories are not walked.
			if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		return nil, readError(err, false)
	}
	return files, nil
}

// pathless drops the path from an *fs.PathError ("stat x.yaml: no such
// file or directory") when the message names the file already.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func inputName(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".gz")
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".json")
}

func (l *loader) readFile(path string) {
	f, err := os.Open(path)
	if err != nil {
		l.report(&DocumentError{File: path, Err: readError(pathless(err), false)})
		return
	}
	defer f.Close()
	before := l.inv.count()
	docs := l.read(f, path)
	l.log.Debug("read inventory file", "file", path, "documents", docs, "objects", l.inv.count()-before)
}

const readBufferSize = 64 << 10

// read decodes one input and returns how many documents it held.
func (l *loader) read(r io.Reader, name string) int {
	br := bufio.NewReaderSize(r, readBufferSize)
	gzipped := false
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			l.report(&DocumentError{File: name, Err: gzipError(err)})
			return 0
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, readBufferSize)
		gzipped = true
	}
	isJSON, err := sniffJSON(br)
	if err != nil {
		l.report(&DocumentError{File: name, Err: readError(err, gzipped)})
		return 0
	}
	if isJSON {
		return l.readJSON(br, name, gzipped)
	}
	return l.readYAML(br, name, gzipped)
}

// sniffJSON skips a UTF-8 byte order mark and reports whether the first
// non-blank byte opens a JSON object or array.
func sniffJSON(br *bufio.Reader) (bool, error) {
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		if _, err := br.Discard(3); err != nil {
			return false, err
		}
	}
	for n := 512; ; n *= 2 {
		n = min(n, br.Size())
		b, err := br.Peek(n)
		for _, c := range b {
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			case '{', '[':
				return true, nil
			}
			return false, nil
		}
		if err != nil {
			if err == io.EOF || err == bufio.ErrBufferFull {
				return false, nil
			}
			return false, err
		}
		if n == br.Size() {
			return false, nil
		}
	}
}

// readJSON decodes a stream of JSON values (one value, concatenated values or
// JSON lines); each value is a document.
func (l *loader) readJSON(r io.Reader, name string, gzipped bool) int {
	data, err := io.ReadAll(r)
	if err != nil {
		l.report(&DocumentError{File: name, Err: readError(err, gzipped)})
		return 0
	}
	if json.Valid(data) {
		// One document, the usual case (`kubectl get -o json`): decode it
		// in place rather than through a Decoder, which would copy it.
		start := skipJSONSpace(data)
		doc := &document{file: name, line: 1 + bytes.Count(data[:start], []byte{'\n'}), index: 1, jsonSrc: data[start:]}
		if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
			return 0
		}
		l.object(doc, data[start:], nil, listContext{})
		return 1
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	line, lineOff := 1, 0
	lineAt := func(off int) int {
		off = min(off, len(data))
		if off < lineOff {
			return 1 + bytes.Count(data[:off], []byte{'\n'})
		}
		line += bytes.Count(data[lineOff:off], []byte{'\n'})
		lineOff = off
		return line
	}
	docs := 0
	for {
		start := int(dec.InputOffset())
		start += skipJSONSpace(data[start:])
		if start >= len(data) {
			return docs
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			off := len(data)
			var se *json.SyntaxError
			if errors.As(err, &se) {
				off = int(se.Offset)
			}
			msg := strings.TrimPrefix(err.Error(), "json: ")
			if errors.Is(err, io.ErrUnexpectedEOF) {
				msg = "unexpected end of input"
			}
			l.report(&DocumentError{File: name, Line: lineAt(off), Document: docs + 1,
				Err: fmt.Errorf("%w: %s", ErrSyntax, msg)})
			return docs
		}
		if string(raw) == "null" {
			continue
		}
		docs++
		doc := &document{file: name, line: lineAt(start), index: docs, jsonSrc: raw}
		l.object(doc, raw, nil, listContext{})
	}
}

func skipJSONSpace(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// readYAML decodes a YAML stream document by document.
func (l *loader) readYAML(r *bufio.Reader, name string, gzipped bool) int {
	ys := yamlStream{r: r}
	docs := 0
	for {
		src, line, err := ys.next()
		if err == io.EOF {
			return docs
		}
		if err != nil {
			l.report(&DocumentError{File: name, Line: ys.line, Err: readError(err, gzipped)})
			return docs
		}
		doc := &document{file: name, line: line, index: docs + 1, firstLine: ys.docFirstLine, yamlSrc: src}
		if !l.noSplit && l.yamlList(doc, src) {
			docs++
			continue
		}
		data, err := yaml.YAMLToJSON(src)
		if err != nil {
			docs++
			errLine, msg := yamlErrorLine(err)
			if errLine > 0 {
				errLine += ys.docFirstLine - 1
			} else {
				errLine = line
			}
			l.report(&DocumentError{File: name, Line: errLine, Document: docs,
				Err: fmt.Errorf("%w: %s", ErrSyntax, msg)})
			continue
		}
		if string(data) == "null" {
			continue
		}
		docs++
		l.object(doc, data, nil, listContext{})
	}
}

// yamlErrorLine extracts the document-relative line from a go-yaml error
// ("yaml: line 3: mapping values are not allowed in this context") and
// returns the message without the "error converting YAML to JSON: yaml:"
// prefixes.
func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	i := strings.IndexByte(rest, ':')
	if i <= 0 {
		return 0, msg
	}
	n := 0
	for _, c := range rest[:i] {
		if c < '0' || c > '9' {
			return 0, msg
		}
		n = n*10 + int(c-'0')
		if n > 1<<30 {
			return 0, msg
		}
	}
	return n, strings.TrimSpace(rest[i+1:])
}

// gzipError classifies an error from reading a gzip stream: the reader
// reports a stream cut short (before the end of the deflate data or inside
// the trailer) as io.ErrUnexpectedEOF, and an empty or cut header as io.EOF.
func gzipError(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrTruncatedGzip
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		return fmt.Errorf("%w: %w", ErrCorruptGzip, err)
	}
	return fmt.Errorf("%w: %w", ErrRead, err)
}

// readError classifies an error from reading an input, gzipped or not.
func readError(err error, gzipped bool) error {
	if gzipped {
		return gzipError(err)
	}
	return fmt.Errorf("%w: %w", ErrRead, err)
}

// count is the number of kept objects, for log records.
func (inv *Inventory) count() int {
	return len(inv.Namespaces) + len(inv.ServiceAccounts) + len(inv.Nodes) + len(inv.Pods) +
		len(inv.Services) + len(inv.Roles) + len(inv.ClusterRoles) + len(inv.RoleBindings) +
		len(inv.ClusterRoleBindings) + len(inv.NetworkPolicies) + len(inv.Deployments) +
		len(inv.ReplicaSets) + len(inv.StatefulSets) + len(inv.DaemonSets) + len(inv.Jobs) +
		len(inv.CronJobs)
}

package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

const (
	// maxErrors is how many errors a load reports in full; the rest are
	// counted.
	maxErrors = 20
	// maxListDepth bounds Lists nested in Lists.
	maxListDepth = 8
)

// loader accumulates objects into an inventory and errors into a bounded
// list, so that one bad document does not hide the next.
type loader struct {
	inv     *Inventory
	log     *slog.Logger
	workers int // goroutines decoding a large List's items
	// noSplit turns off splitYAMLList, for tests comparing it with the
	// general path.
	noSplit bool
	errs    []error
	dropped int
}

func (l *loader) report(err error) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, err)
		return
	}
	l.dropped++
}

// err returns the collected errors joined, or nil.
func (l *loader) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	if l.dropped == 0 && len(l.errs) == 1 {
		return l.errs[0]
	}
	errs := l.errs
	if l.dropped > 0 {
		errs = append(slices.Clip(errs), fmt.Errorf("%d more errors not shown", l.dropped))
	}
	return errors.Join(errs...)
}

// document is one document of an input file, where it came from, and how to
// find the line of an item in it.
type document struct {
	file  string
	line  int // line of the document's first content line, 1-based
	index int // 1-based ordinal among the file's non-empty documents
	// firstLine is the line the document's text starts at (YAML).
	firstLine int
	// itemLines are the lines of the top-level List items, when known
	// exactly (a kubectl List split by splitYAMLList).
	itemLines []int
	// yamlSrc is the YAML text the document was converted from (nil for
	// JSON input, whose data is its own source).
	yamlSrc []byte
	// jsonSrc is the document's JSON as it appears in the file (JSON
	// input only), to locate items by offset.
	jsonSrc []byte
}

// header is what the loader reads of every object before choosing its type.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	// Items is kept only when it is an array: other kinds may have an
	// unrelated "items" field of another type.
	Items listItems `json:"items"`
}

// listItems holds a List's items, decoded in the same pass as the header.
// A non-array "items" is not an error until the object turns out to be a
// List.
type listItems struct {
	present bool
	items   []json.RawMessage
	// notArray is the JSON type "items" had when it was not an array.
	notArray string
}

func (li *listItems) UnmarshalJSON(b []byte) error {
	li.present = true
	switch b[0] {
	case '[':
		return json.Unmarshal(b, &li.items)
	case 'n':
		return nil
	case '{':
		li.notArray = "object"
	default:
		li.notArray = jsonValueKind(b[0])
	}
	return nil
}

// listContext is what a List tells its items: its apiVersion and kind, so
// that items of a typed List (PodList from the raw API) may omit theirs.
type listContext struct {
	apiVersion, kind string
}

// decoded is what one JSON value amounts to, computed without touching the
// inventory so that List items can be decoded in parallel; apply then
// records it, in input order.
type decoded struct {
	add    func(*Inventory) // a kept object, ready to insert
	skip   string           // "apiVersion/kind" of an object not kept
	items  []json.RawMessage
	list   listContext // of items
	object string      // names the object in errors
	err    error
}

// decodeValue decodes one JSON value (a document or a List item at the
// given List depth).
func decodeValue(data []byte, list listContext, depth int) decoded {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		return decoded{}
	}
	switch data[0] {
	case '{':
	case '[':
		// A bare array of objects: read it like a List's items.
		if depth >= maxListDepth {
			return decoded{err: ErrNestingDepth}
		}
		var raw []json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return decoded{err: decodeError(err)}
		}
		return decoded{items: raw}
	default:
		return decoded{err: fmt.Errorf("%w: got %s", ErrNotObject, jsonValueKind(data[0]))}
	}

	var h header
	if err := json.Unmarshal(data, &h); err != nil {
		return decoded{err: decodeError(err)}
	}
	if h.Kind == "" && list.kind != "List" && strings.HasSuffix(list.kind, "List") {
		h.Kind = strings.TrimSuffix(list.kind, "List")
	}
	if h.APIVersion == "" && h.Kind != "" && list.kind != "List" && list.kind != "" {
		h.APIVersion = list.apiVersion
	}
	name := objectName(h)
	switch {
	case h.Kind == "":
		return decoded{object: name, err: ErrNoKind}
	case h.APIVersion == "":
		return decoded{object: name, err: ErrNoAPIVersion}
	}

	if h.Kind == "List" || strings.HasSuffix(h.Kind, "List") && h.Items.present {
		if h.Items.notArray != "" {
			return decoded{object: name, err: &fieldError{field: "items", got: h.Items.notArray, want: "array"}}
		}
		if depth >= maxListDepth {
			return decoded{object: name, err: ErrNestingDepth}
		}
		return decoded{items: h.Items.items, list: listContext{apiVersion: h.APIVersion, kind: h.Kind}}
	}

	handle, ok := handlerFor(h.APIVersion, h.Kind)
	if !ok {
		return decoded{skip: h.APIVersion + "/" + h.Kind}
	}
	add, err := handle(data)
	if err != nil {
		return decoded{object: name, err: err}
	}
	return decoded{add: add}
}

// object decodes one JSON value (a document, or a List item at path) into
// the inventory, reporting problems instead of returning them.
func (l *loader) object(doc *document, data []byte, path []int, list listContext) {
	l.apply(doc, decodeValue(data, list, len(path)), path)
}

func (l *loader) apply(doc *document, d decoded, path []int) {
	switch {
	case d.err != nil:
		l.report(&DocumentError{
			File: doc.file, Line: doc.itemLine(path), Document: doc.index,
			Items: slices.Clone(path), Object: d.object, Err: d.err,
		})
	case d.add != nil:
		d.add(l.inv)
	case d.skip != "":
		if l.inv.Skipped == nil {
			l.inv.Skipped = make(map[string]int)
		}
		l.inv.Skipped[d.skip]++
	case d.items != nil:
		l.itemList(doc, d.items, path, d.list)
	}
}

const (
	// parallelItems is the List size from which items are decoded by
	// several goroutines.
	parallelItems = 64
	// itemBatch bounds how many decoded items wait for insertion.
	itemBatch = 4096
)

// itemList decodes a List's items. Large Lists (a whole-cluster dump is one
// List) are decoded by up to l.workers goroutines in batches; the results
// are applied in item order, so the inventory is the same as a sequential
// decode gives.
func (l *loader) itemList(doc *document, raw []json.RawMessage, path []int, list listContext) {
	path = append(slices.Clip(path), 0)
	depth := len(path)
	workers := l.workers
	if workers <= 1 || len(raw) < parallelItems {
		for i, item := range raw {
			path[depth-1] = i + 1
			l.apply(doc, decodeValue(item, list, depth), path)
		}
		return
	}
	results := make([]decoded, min(len(raw), itemBatch))
	for base := 0; base < len(raw); base += itemBatch {
		batch := raw[base:min(base+itemBatch, len(raw))]
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(workers, len(batch)) {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(batch) {
						return
					}
					results[i] = decodeValue(batch[i], list, depth)
				}
			})
		}
		wg.Wait()
		for i := range batch {
			path[depth-1] = base + i + 1
			l.apply(doc, results[i], path)
			results[i] = decoded{}
		}
	}
}

// objectName renders `Kind "namespace/name"` for messages.
func objectName(h header) string {
	kind := h.Kind
	if kind == "" {
		kind = "object"
	}
	switch {
	case h.Metadata.Name == "":
		if h.Kind == "" {
			return ""
		}
		return kind
	case h.Metadata.Namespace != "":
		return fmt.Sprintf("%s %q", kind, h.Metadata.Namespace+"/"+h.Metadata.Name)
	}
	return fmt.Sprintf("%s %q", kind, h.Metadata.Name)
}

func jsonValueKind(c byte) string {
	switch c {
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// itemLine returns the line where the item at path starts, or the
// document's line when it cannot be told cheaply. It runs only on the error
// path.
func (d *document) itemLine(path []int) int {
	if len(path) == 0 {
		return d.line
	}
	if i := path[0] - 1; i >= 0 && i < len(d.itemLines) {
		return d.itemLines[i]
	}
	if d.jsonSrc != nil {
		if off, ok := jsonItemOffset(d.jsonSrc, path); ok {
			return d.line + bytes.Count(d.jsonSrc[:off], []byte{'\n'})
		}
		return d.line
	}
	if len(path) == 1 && d.yamlSrc != nil {
		if n := yamlItemLine(d.yamlSrc, path[0]); n > 0 {
			return d.line + n - 1
		}
	}
	return d.line
}

// jsonItemOffset finds the byte offset of items[path[0]-1] (then of its own
// items[path[1]-1], and so on) in a JSON object or array.
func jsonItemOffset(src []byte, path []int) (int, bool) {
	base := 0
	for _, n := range path {
		v := src[base:]
		dec := json.NewDecoder(bytes.NewReader(v))
		tok, err := dec.Token()
		if err != nil {
			return 0, false
		}
		if tok == json.Delim('{') {
			found := false
			for dec.More() {
				key, err := dec.Token()
				if err != nil {
					return 0, false
				}
				if key == "items" {
					found = true
					break
				}
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return 0, false
				}
			}
			if !found {
				return 0, false
			}
			if tok, err = dec.Token(); err != nil {
				return 0, false
			}
		}
		if tok != json.Delim('[') {
			return 0, false
		}
		found := false
		for i := 1; dec.More(); i++ {
			if i == n {
				off := int(dec.InputOffset())
				off += skipJSONSpaceAndComma(v[off:])
				base += off
				found = true
				break
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, false
			}
		}
		if !found || base >= len(src) {
			return 0, false
		}
	}
	return base, true
}

func skipJSONSpaceAndComma(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r' || b[i] == ',') {
		i++
	}
	return i
}

// yamlItemLine returns the 1-based line, relative to src, of the n-th entry
// of the top-level "items" block sequence, or 0. It understands the layout
// kubectl writes (items: at column 0, entries as "- " lines at one
// indentation) and gives up on anything else.
func yamlItemLine(src []byte, n int) int {
	inItems := false
	seqIndent := -1
	count := 0
	for lineNo := 1; len(src) > 0; lineNo++ {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		trimmed := bytes.TrimLeft(line, " ")
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		indent := len(line) - len(trimmed)
		if !inItems {
			if indent == 0 && (string(line) == "items:" || bytes.HasPrefix(line, []byte("items: #"))) {
				inItems = true
			}
			continue
		}
		isEntry := trimmed[0] == '-' && (len(trimmed) == 1 || trimmed[1] == ' ')
		if seqIndent < 0 {
			if !isEntry {
				return 0
			}
			seqIndent = indent
		}
		if indent < seqIndent || indent == seqIndent && !isEntry {
			return 0 // the sequence ended before entry n
		}
		if indent == seqIndent {
			count++
			if count == n {
				return lineNo
			}
		}
	}
	return 0
}

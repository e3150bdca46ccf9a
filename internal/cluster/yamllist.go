package cluster

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"

	"sigs.k8s.io/yaml"
)

// A whole-cluster `kubectl get -A -o yaml` dump is one YAML document: a List
// whose items are block sequence entries at column 0. Converting it to JSON
// in one piece is slow (one goroutine) and builds a generic tree of the
// whole dump in memory. kubectlList recognizes that layout and converts the
// items one by one, in parallel; anything it does not recognize, or any item
// that does not convert, sends the document down the general path, which
// also produces the authoritative error messages.

// minSplitItems is the List size from which splitting pays.
const minSplitItems = 16

// yamlListItem is one entry of the items sequence: its text, starting with
// "- ", and its line in the document (1-based).
type yamlListItem struct {
	src  []byte
	line int
}

// itemSpan is an entry being scanned: where it starts and its line.
type itemSpan struct {
	start, end, line int
}

// splitYAMLList splits a document laid out as kubectl writes Lists into the
// document without its items and the items. Top-level keys are at column 0,
// "items:" is followed by entries "- ..." at column 0, and every other line
// of an entry is indented.
func splitYAMLList(doc []byte) (rest []byte, items []yamlListItem, ok bool) {
	if !bytes.HasPrefix(doc, []byte("items:")) && !bytes.Contains(doc, []byte("\nitems:")) {
		return nil, nil, false
	}
	const (
		outside = iota
		afterItemsKey
		inItems
		done
	)
	state := outside
	rest = make([]byte, 0, 256)
	var spans []itemSpan
	for lineNo, off := 1, 0; off < len(doc); lineNo++ {
		end := bytes.IndexByte(doc[off:], '\n')
		if end < 0 {
			end = len(doc)
		} else {
			end += off + 1
		}
		line := doc[off:end]
		off = end
		col0 := len(line) > 0 && line[0] != ' ' && line[0] != '\t' && line[0] != '\n' && line[0] != '\r' && line[0] != '#'
		switch state {
		case outside, done:
			if col0 && isItemsKey(line) {
				if state == done {
					return nil, nil, false // two items keys
				}
				state = afterItemsKey
				continue
			}
			rest = append(rest, line...)
		case afterItemsKey, inItems:
			switch {
			case col0 && isSequenceEntry(line):
				spans = append(spans, itemSpan{start: off - len(line), end: off, line: lineNo})
				state = inItems
			case col0:
				state = done
				rest = append(rest, line...)
			case state == afterItemsKey:
				if !blankOrComment(line) {
					return nil, nil, false // an indented or flow sequence
				}
			default:
				spans[len(spans)-1].end = off
			}
		}
	}
	if len(spans) < minSplitItems {
		return nil, nil, false
	}
	items = make([]yamlListItem, len(spans))
	for i, sp := range spans {
		items[i] = yamlListItem{src: doc[sp.start:sp.end], line: sp.line}
	}
	return rest, items, true
}

func isItemsKey(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("items:"))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	return len(rest) == 0 || rest[0] == '\n' || rest[0] == '\r' || rest[0] == '#'
}

func isSequenceEntry(line []byte) bool {
	return line[0] == '-' && (len(line) == 1 || line[1] == ' ' || line[1] == '\n' || line[1] == '\r')
}

// yamlList loads a document through splitYAMLList, reporting false when the
// document must take the general path instead. Nothing is added to the
// inventory before every item has converted.
func (l *loader) yamlList(doc *document, src []byte) bool {
	rest, items, ok := splitYAMLList(src)
	if !ok {
		return false
	}
	headJSON, err := yaml.YAMLToJSON(rest)
	if err != nil {
		return false
	}
	var h header
	if json.Unmarshal(headJSON, &h) != nil || h.APIVersion == "" ||
		(h.Kind != "List" && !strings.HasSuffix(h.Kind, "List")) || h.Items.present {
		return false
	}

	converted := make([]json.RawMessage, len(items))
	var failed atomic.Bool
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(l.workers, len(items))) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				// An entry converts as a one-element sequence:
				// "[{...}]"; keep the object.
				j, err := yaml.YAMLToJSON(items[i].src)
				if err != nil || len(j) < 2 || j[0] != '[' || j[len(j)-1] != ']' {
					failed.Store(true)
					return
				}
				converted[i] = j[1 : len(j)-1]
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return false
	}
	doc.itemLines = make([]int, len(items))
	for i, it := range items {
		doc.itemLines[i] = doc.firstLine + it.line - 1
	}
	l.apply(doc, decoded{items: converted, list: listContext{apiVersion: h.APIVersion, kind: h.Kind}}, nil)
	return true
}

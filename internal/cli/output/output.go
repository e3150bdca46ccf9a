// Package output prints command results as a table, JSON or YAML, the way
// kubectl's -o flag does.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Format is an output format.
type Format string

// Formats.
const (
	Table Format = "table"
	JSON  Format = "json"
	YAML  Format = "yaml"
)

// AddFlag registers -o/--output on cmd with the allowed formats; the first
// is the default.
func AddFlag(cmd *cobra.Command, f *Format, allowed ...Format) {
	*f = allowed[0]
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	cmd.Flags().VarP(&formatValue{f: f, allowed: allowed}, "output", "o",
		"output format: "+strings.Join(names, "|"))
}

type formatValue struct {
	f       *Format
	allowed []Format
}

func (v *formatValue) String() string { return string(*v.f) }
func (v *formatValue) Type() string   { return "format" }
func (v *formatValue) Set(s string) error {
	for _, a := range v.allowed {
		if string(a) == s {
			*v.f = a
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q (want one of %v)", s, v.allowed)
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteYAML writes v as YAML (through its JSON form, so json tags apply).
func WriteYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Structured writes v as JSON or YAML; it reports false for Table.
func Structured(w io.Writer, f Format, v any) (bool, error) {
	switch f {
	case JSON:
		return true, WriteJSON(w, v)
	case YAML:
		return true, WriteYAML(w, v)
	}
	return false, nil
}

// NewTable returns a tab writer laid out like kubectl's tables. Call Flush.
func NewTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
}

// WriteJSONLine writes v as one compact JSON line.
func WriteJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

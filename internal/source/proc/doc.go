// Package proc decodes process events from runtime security sensors into
// event.Exec values.
//
// Two formats are understood, detected from the first JSON line of each
// input or forced with Options.Format:
//
//   - "falco": Falco alerts as Falco writes them with json_output: true
//     (stdout, file_output, program_output, http_output) and as
//     Falcosidekick forwards them (the same object plus "uuid");
//   - "tetragon": Tetragon's JSON export (the export file, the
//     export-stdout container, `tetra getevents -o json`).
//
// A third source of process starts is the API server itself: FromAudit turns
// an audit record of a pods/exec or pods/attach request into the Exec it
// asked for.
//
// docs/formats/exec.md documents the fields read from each format, the
// records kept and skipped, how command lines are split into arguments and
// the error format.
//
// A decoder only decodes: bytes in, event.Exec out. It resolves no
// identities and raises no alerts; a Falco alert keeps its rule name and
// priority as plain facts for the detectors downstream. Records are decoded
// with encoding/json into minimal structs: the fields kubedelta uses are
// read, everything else is validated and skipped.
package proc

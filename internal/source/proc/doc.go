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
// priority as plain facts for the detectors downstream.
//
// Records are read by a single-pass scanner that validates the line, reads
// the fields kubedelta uses and interns the strings that repeat. Anything
// the scanner does not handle exactly as encoding/json would sends the
// record to the reference path, encoding/json into minimal structs, which
// gives the result or the precise error; fuzz tests hold both paths to the
// same results.
package proc

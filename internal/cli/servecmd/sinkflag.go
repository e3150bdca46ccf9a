package servecmd

import (
	"fmt"
	"strings"
)

// parseSinkFlag reads one --sink value:
//
//	TYPE[=URL][,name=NAME][,min-severity=SEVERITY][,category=CATEGORY]...[,timeout=DURATION]
//
// for example "stdout", "alertmanager=http://alertmanager:9093,min-severity=high"
// or "slack=https://hooks.slack.com/services/…,category=rbac,category=secret".
// Headers (and URLs with commas) need the config file.
func parseSinkFlag(v string) (SinkConfig, error) {
	parts := strings.Split(v, ",")
	typ, url, _ := strings.Cut(parts[0], "=")
	c := SinkConfig{Type: strings.TrimSpace(typ), URL: strings.TrimSpace(url)}
	if c.Type == "" {
		return c, fmt.Errorf("--sink %q: want TYPE[=URL][,min-severity=S][,category=C]... (TYPE: stdout, webhook, alertmanager, slack)", v)
	}
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok || val == "" {
			return c, fmt.Errorf("--sink %q: %q: want key=value (name, min-severity, category, timeout)", v, p)
		}
		switch strings.TrimSpace(k) {
		case "name":
			c.Name = val
		case "min-severity":
			c.MinSeverity = val
		case "category":
			c.Categories = append(c.Categories, val)
		case "timeout":
			c.Timeout = val
		default:
			return c, fmt.Errorf("--sink %q: unknown option %q (name, min-severity, category, timeout)", v, k)
		}
	}
	return c, nil
}

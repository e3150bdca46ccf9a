package detect

import (
	"testing"
	"time"
)

func BenchmarkZZBenignOnly(b *testing.B) {
	events := wkBenignAudit(100000)
	s := wkState()
	wkShop(s)
	var api []APIDetector
	for _, d := range SpecDetectors(SpecOptions{}) {
		api = append(api, d.(APIDetector))
	}
	n := 0
	for _, r := range events {
		if len(r.RequestObject) == 0 {
			events[n] = r
			n++
		}
	}
	events = events[:n]
	emit := func(Alert) {}
	start, cpu0 := time.Now(), wkCPUTime()
	for b.Loop() {
		for _, r := range events {
			for _, d := range api {
				d.API(s, r, emit)
			}
		}
	}
	wkReportRate(b, n, start, cpu0, "event")
}

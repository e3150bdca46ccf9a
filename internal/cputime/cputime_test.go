package cputime

import "testing"

func TestNowAdvances(t *testing.T) {
	a := Now()
	x := 0
	for i := range 50_000_000 {
		x += i ^ (x >> 3)
	}
	if b := Now(); b <= a {
		t.Errorf("CPU time did not advance over a busy loop: %v then %v (x=%d)", a, b, x)
	}
}

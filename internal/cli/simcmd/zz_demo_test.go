package simcmd

import (
	"os"
	"strings"
	"testing"
)

func TestDemoRun(t *testing.T) {
	a := os.Getenv("SIMARGS")
	if a == "" {
		t.Skip()
	}
	out, errs, err := runSim(t, strings.Fields(a)...)
	t.Log(out, errs, err)
}

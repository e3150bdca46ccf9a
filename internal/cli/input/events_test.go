package input

import (
	"fmt"
	"testing"
)

func TestAuditDedup(t *testing.T) {
	d := NewAuditDedup(4)
	for i := range 6 {
		if d.Seen(fmt.Sprint("id-", i)) {
			t.Fatalf("id-%d reported seen on first sight", i)
		}
	}
	// id-2..id-5 are within the two generations; id-0 and id-1 may have
	// rotated out, which is the bound working.
	for i := 2; i < 6; i++ {
		if !d.Seen(fmt.Sprint("id-", i)) {
			t.Errorf("id-%d not remembered", i)
		}
	}
	if d.Dups != 4 {
		t.Errorf("Dups = %d, want 4", d.Dups)
	}
	d.Seen("")
	if d.Seen("") {
		t.Error("an empty ID is never a duplicate")
	}
	if len(d.young)+len(d.old) > 2*4 {
		t.Errorf("holds %d IDs, bound is 8", len(d.young)+len(d.old))
	}
}

package server

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestKeyPairReload: a rotated certificate (cert-manager rewrites the
// files in place) is served without a restart; unreadable new files keep
// the previous pair in service.
func TestKeyPairReload(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	certA, keyA, _, err := GenerateCert(dirA, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certB, keyB, _, err := GenerateCert(dirB, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	serving := filepath.Join(t.TempDir(), "tls.crt")
	servingKey := filepath.Join(filepath.Dir(serving), "tls.key")
	cp := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cp(certA, serving)
	cp(keyA, servingKey)
	kp := &keyPair{cert: serving, key: servingKey}
	if err := kp.load(); err != nil {
		t.Fatal(err)
	}
	first, _ := kp.get(nil)

	// Rotate, with a modification time that differs for sure.
	cp(certB, serving)
	cp(keyB, servingKey)
	later := time.Now().Add(time.Minute)
	os.Chtimes(serving, later, later)
	os.Chtimes(servingKey, later, later)
	kp.checked = time.Time{} // as if certReloadEvery had passed
	second, _ := kp.get(nil)
	if bytes.Equal(first.Certificate[0], second.Certificate[0]) {
		t.Fatal("the rotated certificate is not served")
	}

	// A broken rotation keeps the working pair.
	os.WriteFile(serving, []byte("not a certificate"), 0o600)
	evenLater := later.Add(time.Minute)
	os.Chtimes(serving, evenLater, evenLater)
	kp.checked = time.Time{}
	third, _ := kp.get(nil)
	if third == nil || !bytes.Equal(third.Certificate[0], second.Certificate[0]) {
		t.Fatal("a broken certificate file replaced the working one")
	}
}

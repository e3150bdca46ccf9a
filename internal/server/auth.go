package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// ErrAuthConfig reports an unusable token file or authentication setup.
var ErrAuthConfig = errors.New("invalid authentication config")

// Auth authenticates requests by bearer token or by a client certificate
// verified during the TLS handshake (the API server's audit webhook
// kubeconfig can carry either). Tokens are kept only as SHA-256 hashes and
// compared in constant time; they are never logged.
type Auth struct {
	tokens      [][sha256.Size]byte
	clientCerts bool
}

// maxTokenFile bounds the token file read.
const maxTokenFile = 1 << 20

// minTokenLength rejects tokens too short to resist guessing.
const minTokenLength = 16

// NewAuth builds an Auth from a token file (one token per line; empty lines
// and lines starting with # are ignored; "" for none) and whether verified
// client certificates authenticate (the TLS config must then request and
// verify them, see TLSConfig).
func NewAuth(tokenFile string, clientCerts bool) (*Auth, error) {
	a := &Auth{clientCerts: clientCerts}
	if tokenFile != "" {
		f, err := os.Open(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("%w: token file: %w", ErrAuthConfig, err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 4096), maxTokenFile)
		line := 0
		for sc.Scan() {
			line++
			t := bytes.TrimSpace(sc.Bytes())
			if len(t) == 0 || t[0] == '#' {
				continue
			}
			if len(t) < minTokenLength {
				return nil, fmt.Errorf("%w: %s:%d: token shorter than %d characters; generate one with `openssl rand -hex 32`",
					ErrAuthConfig, tokenFile, line, minTokenLength)
			}
			if bytes.ContainsAny(t, " \t") {
				return nil, fmt.Errorf("%w: %s:%d: a token contains white space (one token per line)", ErrAuthConfig, tokenFile, line)
			}
			a.tokens = append(a.tokens, sha256.Sum256(t))
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%w: token file %s: %w", ErrAuthConfig, tokenFile, err)
		}
		if len(a.tokens) == 0 {
			return nil, fmt.Errorf("%w: token file %s holds no token", ErrAuthConfig, tokenFile)
		}
	}
	if len(a.tokens) == 0 && !clientCerts {
		return nil, fmt.Errorf("%w: give a token file or a client CA", ErrAuthConfig)
	}
	return a, nil
}

// Tokens is the number of tokens loaded.
func (a *Auth) Tokens() int { return len(a.tokens) }

// authenticate returns who made r: "token:<n>" (the token's position in
// the file, from 1), "cert:<subject common name>", or ok false.
func (a *Auth) authenticate(r *http.Request) (principal string, ok bool) {
	if a.clientCerts && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return "cert:" + r.TLS.VerifiedChains[0][0].Subject.CommonName, true
	}
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(a.tokens) == 0 {
		return "", false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	match := 0
	// Compare with every token, whatever matches, so the time taken does
	// not tell which (or whether one) matched early.
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i][:]) == 1 {
			match = i + 1
		}
	}
	if match == 0 {
		return "", false
	}
	return "token:" + strconv.Itoa(match), true
}

type principalKey struct{}

// principal returns who made the request ("" without authentication).
func principal(ctx context.Context) string {
	p, _ := ctx.Value(principalKey{}).(string)
	return p
}

// requireAuth wraps h: unauthenticated requests get 401.
func (s *Server) requireAuth(endpoint string, h http.Handler) http.Handler {
	a := s.opts.Auth
	if a == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, ok := a.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kubedelta"`)
			s.metrics.rejections.with(endpoint, reasonUnauthenticated).Add(1)
			s.rejects.log("request refused", endpoint, r, "code", http.StatusUnauthorized, "reason", reasonUnauthenticated)
			http.Error(w, "unauthenticated: send a bearer token (Authorization: Bearer …) or a client certificate", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, who)))
	})
}

package rbac

import (
	"errors"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseSubject(t *testing.T) {
	tests := []struct {
		in      string
		want    Subject
		wantErr string
	}{
		{in: "User::alice", want: Subject{Kind: "User", Name: "alice"}},
		{in: "user::alice", want: Subject{Kind: "User", Name: "alice"}},
		{in: "Group::system:masters", want: Subject{Kind: "Group", Name: "system:masters"}},
		{in: "g::system:serviceaccounts:ns", want: Subject{Kind: "Group", Name: "system:serviceaccounts:ns"}},
		{in: "ServiceAccount:kube-system:kube-dns", want: Subject{Kind: "ServiceAccount", Namespace: "kube-system", Name: "kube-dns"}},
		{in: "sa:default:builder", want: Subject{Kind: "ServiceAccount", Namespace: "default", Name: "builder"}},
		{in: "User::system:serviceaccount:ns:x", want: Subject{Kind: "User", Name: "system:serviceaccount:ns:x"}},
		{in: "alice", wantErr: "want KIND:NAMESPACE:NAME"},
		{in: "User:alice", wantErr: "missing NAMESPACE field"},
		{in: "Robot::r2d2", wantErr: `kind "Robot"`},
		{in: "User::", wantErr: "empty name"},
		{in: "User:ns:alice", wantErr: "a User has no namespace"},
		{in: "ServiceAccount::builder", wantErr: "needs a namespace"},
		{in: "ServiceAccount:ns:a:b", wantErr: "cannot contain ':'"},
	}
	for _, tt := range tests {
		got, err := ParseSubject(tt.in)
		if tt.wantErr != "" {
			if err == nil || !errors.Is(err, ErrInvalidSubject) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSubject(%q) error = %v, want %q wrapping ErrInvalidSubject", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSubject(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if again, err := ParseSubject(got.String()); err != nil || again != got {
			t.Errorf("round trip of %q: %+v, %v", got.String(), again, err)
		}
	}
}

// FuzzParseSubject: ParseSubject never panics, and whatever it accepts
// prints back to a string it parses to the same subject.
func FuzzParseSubject(f *testing.F) {
	for _, s := range []string{"User::alice", "ServiceAccount:ns:sa", "Group::a:b:c", "sa:x:y", "::", "u:::", "ServiceAccount:a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sub, err := ParseSubject(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSubject) {
				t.Fatalf("error %v does not wrap ErrInvalidSubject", err)
			}
			return
		}
		again, err := ParseSubject(sub.String())
		if err != nil || again != sub {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, sub, sub.String(), again, err)
		}
	})
}

// TestImpliedGroups mirrors k8s.io/apiserver
// pkg/authentication/group/authenticated_group_adder_test.go and
// serviceaccount.MakeGroupNames.
func TestImpliedGroups(t *testing.T) {
	tests := []struct {
		user   string
		groups []string
		want   []string
	}{
		{"alice", nil, []string{"system:authenticated"}},
		{"alice", []string{"dev"}, []string{"dev", "system:authenticated"}},
		{"alice", []string{"system:authenticated"}, []string{"system:authenticated"}},
		{"alice", []string{"system:unauthenticated"}, []string{"system:unauthenticated"}},
		{"system:anonymous", nil, []string{"system:unauthenticated"}},
		{"system:anonymous", []string{"system:unauthenticated"}, []string{"system:unauthenticated"}},
		{"system:serviceaccount:ns1:app", nil, []string{"system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"}},
		{"system:serviceaccount:ns1:app", []string{"system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"},
			[]string{"system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"}},
		// not a service-account name: nothing SA-specific implied
		{"system:serviceaccount:ns1", nil, []string{"system:authenticated"}},
		{"system:serviceaccount::app", nil, []string{"system:authenticated"}},
	}
	for _, tt := range tests {
		if got := ImpliedGroups(tt.user, tt.groups); !slices.Equal(got, tt.want) {
			t.Errorf("ImpliedGroups(%q, %q) = %q, want %q", tt.user, tt.groups, got, tt.want)
		}
		for _, g := range tt.want {
			s := Subject{Kind: "Group", Name: g}
			if !s.Matches(tt.user, tt.groups) {
				t.Errorf("%v should match %q %q", s, tt.user, tt.groups)
			}
		}
	}
	in := []string{"dev"}
	out := ImpliedGroups("alice", in)
	out[0] = "changed"
	if in[0] != "dev" {
		t.Errorf("ImpliedGroups modified its input")
	}
	if allocs := testing.AllocsPerRun(100, func() {
		_ = Subject{Kind: "Group", Name: "system:serviceaccounts:ns1"}.Matches("system:serviceaccount:ns1:app", nil)
	}); allocs != 0 {
		t.Errorf("Subject.Matches allocates %v times", allocs)
	}
}

func TestSubjectMatches(t *testing.T) {
	tests := []struct {
		s      Subject
		user   string
		groups []string
		want   bool
	}{
		{Subject{Kind: "User", Name: "alice"}, "alice", nil, true},
		{Subject{Kind: "User", Name: "alice"}, "bob", []string{"alice"}, false},
		{Subject{Kind: "Group", Name: "devs"}, "bob", []string{"devs"}, true},
		{Subject{Kind: "Group", Name: "system:authenticated"}, "bob", nil, true},
		{Subject{Kind: "Group", Name: "system:authenticated"}, "system:anonymous", nil, false},
		{Subject{Kind: "ServiceAccount", Namespace: "ns", Name: "sa"}, "system:serviceaccount:ns:sa", nil, true},
		{Subject{Kind: "ServiceAccount", Namespace: "ns", Name: "sa"}, "system:serviceaccount:ns:sa2", nil, false},
		{Subject{Kind: "ServiceAccount", Namespace: "ns", Name: "sa"}, "system:serviceaccount:ns2:sa", nil, false},
		{Subject{Kind: "ServiceAccount", Name: "sa"}, "system:serviceaccount::sa", nil, false},
		{Subject{Kind: "Robot", Name: "x"}, "x", []string{"x"}, false},
	}
	for _, tt := range tests {
		if got := tt.s.Matches(tt.user, tt.groups); got != tt.want {
			t.Errorf("%v.Matches(%q, %q) = %v, want %v", tt.s, tt.user, tt.groups, got, tt.want)
		}
	}
}

func TestAuthorizeDoesNotAllocate(t *testing.T) {
	a := NewAuthorizer(bootstrapObjects(t))
	reqs := []Request{
		res("system:serviceaccount:kube-system:kube-dns", "", "list", "", "services", "", ""),
		res("alice", "dev,ops", "get", "", "pods", "default", "p"),
		nonRes("system:anonymous", "", "get", "/healthz"),
	}
	for _, r := range reqs {
		if n := testing.AllocsPerRun(100, func() { _ = a.Authorize(r) }); n != 0 {
			t.Errorf("Authorize(%+v) allocates %v times", r, n)
		}
	}
}

// TestPackageComment: the package has a doc comment (style.md).
func TestPackageComment(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), e.Name(), nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+f.Name.Name+" ") {
			found = true
		}
	}
	if !found {
		t.Error("package rbac has no package comment")
	}
}

package netpol

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type selOp uint8

const (
	opIn selOp = iota
	opNotIn
	opExists
	opDoesNotExist
)

type requirement struct {
	key    string
	op     selOp
	values []string
}

// selector is a compiled metav1.LabelSelector. Matching follows
// k8s.io/apimachinery/pkg/labels (Requirement.Matches): NotIn and
// DoesNotExist match objects without the key; matchLabels and
// matchExpressions are ANDed; an empty selector matches everything.
type selector struct {
	reqs []requirement
	// key is the canonical form (labels.Selector.String), used to share
	// evaluations between equal selectors of different policies.
	key string
}

// compileSelector compiles ls, which must not be nil. Validation is
// apimachinery's own (metav1.LabelSelectorAsSelector), so a selector the API
// server would reject is reported rather than guessed at.
func compileSelector(ls *metav1.LabelSelector) (*selector, error) {
	parsed, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, err
	}
	s := &selector{key: parsed.String()}
	for k, v := range ls.MatchLabels {
		s.reqs = append(s.reqs, requirement{key: k, op: opIn, values: []string{v}})
	}
	for _, e := range ls.MatchExpressions {
		r := requirement{key: e.Key, values: slices.Clone(e.Values)}
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			r.op = opIn
		case metav1.LabelSelectorOpNotIn:
			r.op = opNotIn
		case metav1.LabelSelectorOpExists:
			r.op = opExists
		case metav1.LabelSelectorOpDoesNotExist:
			r.op = opDoesNotExist
		default:
			// Unreachable: LabelSelectorAsSelector rejects other operators.
			return nil, fmt.Errorf("%q is not a valid label selector operator", e.Operator)
		}
		s.reqs = append(s.reqs, r)
	}
	// Deterministic order, cheapest checks first does not matter much; sort
	// by key so equal selectors behave identically.
	slices.SortFunc(s.reqs, func(a, b requirement) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		return int(a.op) - int(b.op)
	})
	return s, nil
}

func (s *selector) empty() bool { return len(s.reqs) == 0 }

func (s *selector) matches(labels map[string]string) bool {
	for i := range s.reqs {
		r := &s.reqs[i]
		v, ok := labels[r.key]
		switch r.op {
		case opIn:
			if !ok || !slices.Contains(r.values, v) {
				return false
			}
		case opNotIn:
			if ok && slices.Contains(r.values, v) {
				return false
			}
		case opExists:
			if !ok {
				return false
			}
		case opDoesNotExist:
			if ok {
				return false
			}
		}
	}
	return true
}

// keys adds the label keys s looks at to dst.
func (s *selector) keys(dst map[string]struct{}) {
	for _, r := range s.reqs {
		dst[r.key] = struct{}{}
	}
}

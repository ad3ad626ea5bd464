package main

import (
	"slices"
	"testing"
)

func TestStreamIDParseAndOrder(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"0-0", true},
		{"1700000000000-0", true},
		{"18446744073709551615-18446744073709551615", true},
		{"", false},
		{"$", false},
		{"1700000000000", false}, // Redis takes it, but a client's last ID is always full
		{"-1", false},
		{"1--1", false},
		{"1-x", false},
		{"18446744073709551616-0", false},
	} {
		id, ok := parseStreamID(tt.in)
		if ok != tt.ok {
			t.Errorf("parseStreamID(%q) ok = %v, want %v", tt.in, ok, tt.ok)
		}
		if ok && id.String() != tt.in {
			t.Errorf("parseStreamID(%q).String() = %q", tt.in, id.String())
		}
	}
	ordered := []string{"0-0", "0-1", "1-0", "1-2", "2-0", "10-0"}
	for i := range ordered {
		for j := range ordered {
			a, _ := parseStreamID(ordered[i])
			b, _ := parseStreamID(ordered[j])
			if a.less(b) != (i < j) {
				t.Errorf("%s.less(%s) = %v", a, b, a.less(b))
			}
		}
	}
}

func TestDiffUsersCountsEachConnection(t *testing.T) {
	u := func(name, node string) user { return user{name, node} }
	old := []user{u("ann", "a"), u("bob", "a"), u("bob", "b"), u("cy", "c")}
	now := []user{u("ann", "a"), u("bob", "b"), u("bob", "b"), u("dee", "a")}
	added, removed := diffUsers(old, now)
	if want := []user{u("bob", "b"), u("dee", "a")}; !slices.Equal(added, want) {
		t.Errorf("added = %v, want %v", added, want)
	}
	if want := []user{u("bob", "a"), u("cy", "c")}; !slices.Equal(removed, want) {
		t.Errorf("removed = %v, want %v", removed, want)
	}
}

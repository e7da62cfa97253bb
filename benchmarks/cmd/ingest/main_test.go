package main

import (
	"slices"
	"testing"
)

func TestIntList(t *testing.T) {
	var l intList
	if err := l.Set("64, 256"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l, intList{64, 256}) || l.String() != "64,256" {
		t.Errorf("got %v (%q)", l, l.String())
	}
	for _, bad := range []string{"", "64,", "x", "0", "-3"} {
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

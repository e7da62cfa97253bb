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

func TestFloatList(t *testing.T) {
	var l floatList
	if err := l.Set("5000, 12500.5"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l, floatList{5000, 12500.5}) || l.String() != "5000,12500.5" {
		t.Errorf("got %v (%q)", l, l.String())
	}
	for _, bad := range []string{"", "5000,", "x", "0", "-3"} {
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

func TestStringList(t *testing.T) {
	var l stringList
	if err := l.Set("ingest, sync"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l, stringList{"ingest", "sync"}) || l.String() != "ingest,sync" {
		t.Errorf("got %v (%q)", l, l.String())
	}
	if err := l.Set("ingest,,sync"); err == nil {
		t.Error("empty name accepted")
	}
}

package main

import (
	"strings"
	"testing"
	"time"
)

func TestTableSaysWhatShareTheMotoTargetNeeds(t *testing.T) {
	d := func(target string, requests int64) result {
		return result{workload: "DescribeWorkspaces by id", target: target, requests: requests, elapsed: time.Second}
	}
	got := table([]result{d("deskplane", 30000), d("moto", 300), d("trivial", 40000)})
	for _, want := range []string{
		"deskplane/moto = 100.0x (target >= 100x: met)",
		"deskplane/trivial handler = 75% (target >= 65%: met)",
		"trivial handler/moto = 133.3x, so >= 100x moto needs deskplane at >= 75% of the trivial handler here",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if got := table([]result{d("deskplane", 30000), d("trivial", 40000)}); strings.Contains(got, "trivial handler/moto") {
		t.Errorf("without moto the table still gives a bound:\n%s", got)
	}
}

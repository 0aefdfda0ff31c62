package workspaces

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"testing"
	"time"
)

// maintenanceWindowRef is MaintenanceWindow as it was before maintWindows
// (one id at a time, the months worked out for each).
func maintenanceWindowRef(id string, now time.Time) time.Time {
	h := fnv.New32a()
	h.Write([]byte(id))
	v := h.Sum32()
	day := int(v % 14)
	minute := int((v / 14) % (4 * 60))
	for months := 0; months < 3; months++ {
		first := time.Date(now.Year(), now.Month()+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
		off := (int(time.Monday) - int(first.Weekday()) + 7) % 7
		third := first.AddDate(0, 0, off+14)
		start := third.AddDate(0, 0, day).Add(time.Duration(minute) * time.Minute)
		if start.After(now) {
			return start
		}
	}
	return now.AddDate(0, 1, 0)
}

// TestMaintWindowsAsMaintenanceWindow: the windows worked out once for an
// instant give every id the start the one-id form gives, at instants
// spread over years, near the windows' edges and month ends, in UTC and in
// other zones.
func TestMaintWindowsAsMaintenanceWindow(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 14))
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EST", -5*3600)
	}
	zones := []*time.Location{time.UTC, ny, time.FixedZone("plus14", 14*3600), time.FixedZone("minus12", -12*3600)}
	ids := make([]string, 60)
	for i := range ids {
		ids[i] = newID("ws-")
	}
	ids = append(ids, "", "ws-0", "ws-zzzzzzzzz")
	for n := range 3000 {
		var now time.Time
		switch n % 3 {
		case 0: // anywhere in 2020-2040
			now = time.Unix(1577836800+r.Int64N(20*365*86400), r.Int64N(1e9))
		case 1: // a month's last or first hours
			now = time.Date(2020+r.IntN(20), time.Month(1+r.IntN(12)), 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(48*time.Hour))) - 24*time.Hour)
		default: // inside a month's window (its third Monday and the two weeks after)
			first := time.Date(2020+r.IntN(20), time.Month(1+r.IntN(12)), 1, 0, 0, 0, 0, time.UTC)
			third := maintWindowsAt(first).third[0]
			now = third.Add(time.Duration(r.Int64N(int64(15 * 24 * time.Hour))))
		}
		now = now.In(zones[r.IntN(len(zones))])
		w := maintWindowsAt(now)
		for _, id := range ids {
			want := maintenanceWindowRef(id, now)
			if got := w.at(id); !got.Equal(want) || got.Location() != want.Location() || got != want {
				t.Fatalf("at %s, id %q: %s; want %s", now, id, got, want)
			}
			if got := MaintenanceWindow(id, now); got != want {
				t.Fatalf("MaintenanceWindow(%q, %s) = %s; want %s", id, now, got, want)
			}
		}
	}
}

// BenchmarkMaintenanceDue: a creation's 25 desktops' maintenance windows,
// one at a time (ref) and with the months worked out once (dues).
func BenchmarkMaintenanceDue(b *testing.B) {
	ids := make([]string, 25)
	for i := range ids {
		ids[i] = fmt.Sprintf("ws-%09d", i*7919)
	}
	now := time.Date(2026, 12, 7, 15, 4, 5, 0, time.UTC)
	b.Run("ref", func(b *testing.B) {
		for range b.N {
			for _, id := range ids {
				maintenanceWindowRef(id, now)
			}
		}
	})
	b.Run("dues", func(b *testing.B) {
		for range b.N {
			w := maintWindowsAt(now)
			for _, id := range ids {
				w.at(id)
			}
		}
	})
}

package ratelog

import (
	"sync"
	"testing"
	"time"
)

// TestDue: with a fake clock, the first event is logged, the events within
// a minute of it are held back, and the next record counts them all.
func TestDue(t *testing.T) {
	var l Limiter
	var total uint64
	var logged []uint64 // since, of each record
	held := 0
	event := func(at time.Duration, n uint64) {
		t.Helper()
		total += n
		since, ok := l.Due(int64(at), total)
		if !ok {
			if since != 0 {
				t.Errorf("at %v: held back, since %d", at, since)
			}
			held++
			return
		}
		logged = append(logged, since)
	}
	event(0, 1) // the first: logged at once, at clock 0
	for i := range 5 {
		event(time.Duration(i+1)*10*time.Second, 2) // 10s ... 50s: held back
	}
	event(Interval-time.Nanosecond, 1) // still held back
	event(Interval, 3)                 // a minute after the first record: logged, with the 5×2+1 held back
	event(Interval+time.Second, 1)     // held back
	event(10*Interval, 4)              // long after: logged, with the 1 held back
	if held != 7 {
		t.Errorf("held back %d events, want 7", held)
	}
	want := []uint64{1, 2*5 + 1 + 3, 1 + 4}
	if len(logged) != len(want) {
		t.Fatalf("records %v, want %v", logged, want)
	}
	var sum uint64
	for i := range want {
		if logged[i] != want[i] {
			t.Errorf("record %d: since %d, want %d", i, logged[i], want[i])
		}
		sum += logged[i]
	}
	if sum != total {
		t.Errorf("records add up to %d, total %d", sum, total)
	}
}

// TestDueConcurrent: of many callers at one instant, exactly one gets the
// record.
func TestDueConcurrent(t *testing.T) {
	var l Limiter
	const callers = 64
	var wg sync.WaitGroup
	var mu sync.Mutex
	due := 0
	for i := range callers {
		wg.Go(func() {
			if _, ok := l.Due(int64(time.Hour), uint64(i+1)); ok {
				mu.Lock()
				due++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if due != 1 {
		t.Errorf("%d records due, want 1", due)
	}
	if _, ok := l.Due(int64(time.Hour+Interval), callers+1); !ok {
		t.Error("no record a minute later")
	}
}

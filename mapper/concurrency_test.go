package mapper

import (
	"fmt"
	"sync"
	"testing"
)

// Many goroutines mapping the same and different series, with a small cache
// that evicts: every result must be right (run with -race).
func TestMapConcurrent(t *testing.T) {
	rs := mustRules(t, "mappings:\n- match: \"*.orders.*\"\n  name: orders_total\n  labels: {shop: \"$1\", kind: \"$2\"}\n")
	m := mustMapper(t, WithRules(rs), WithCacheSize(64))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				line := fmt.Sprintf("s%d.orders.k%d:1|c|#g:%d", i%7, i%100, g)
				want := fmt.Sprintf("orders_total counter g=%d,kind=k%d,shop=s%d", g, i%100, i%7)
				if got := mapLine(t, m, line); got != want {
					t.Errorf("%s: got %q, want %q", line, got, want)
					return
				}
				if got := mapLine(t, m, "x.gunicorn.requests:1|c"); got != "gunicorn.requests counter app=x" {
					t.Errorf("profile: %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
	if st := m.CacheStats(); st.Len > st.Capacity || st.Evictions == 0 {
		t.Errorf("stats %+v", st)
	}
}

package ratelog_test

import (
	"fmt"
	"time"

	"github.com/gunicornotel/gunicornotel/internal/ratelog"
)

// A limit that drops data says so once a minute at most, with how much it
// dropped since it last said so.
func ExampleLimiter() {
	var l ratelog.Limiter
	var dropped uint64
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for s := range 130 { // one drop a second for 130 seconds
		dropped++
		now := start.Add(time.Duration(s) * time.Second)
		if since, ok := l.Due(now.UnixNano(), dropped); ok {
			fmt.Printf("%s: dropped %d (total %d)\n", now.Format("15:04:05"), since, dropped)
		}
	}
	// Output:
	// 00:00:00: dropped 1 (total 1)
	// 00:01:00: dropped 60 (total 61)
	// 00:02:00: dropped 60 (total 121)
}

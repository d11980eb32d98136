package promqueries

import "testing"

func TestSubstitute(t *testing.T) {
	got := Substitute(`rate(x{job=~"$job",instance=~"${instance}"}[$__rate_interval]) or label_replace(y, "c", "${1}xx", "s", "(.)")`,
		map[string]string{"job": "a", "instance": ".*", "__rate_interval": "10s", "__rate": "no"})
	want := `rate(x{job=~"a",instance=~".*"}[10s]) or label_replace(y, "c", "${1}xx", "s", "(.)")`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestInstant(t *testing.T) {
	for in, want := range map[string]string{
		`sum by (app) (rate(a{s=~"5.."}[5m])) / sum by (app) (rate(a[5m]))`: `sum by (app) (a{s=~"5.."}) / sum by (app) (a)`,
		`histogram_quantile(0.9, sum by (le) (increase(b_bucket[1m])))`:     `histogram_quantile(0.9, sum by (le) (b_bucket))`,
		`max_over_time(g[5m]) > 0.8 * h`:                                    `g > 0.8 * h`,
		`x{q="[not a range]"}`:                                              `x{q="[not a range]"}`,
	} {
		got, err := Instant(in)
		if err != nil || got != want {
			t.Errorf("Instant(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{`rate(x[5m:1m])`, `max_over_time(rate(y[1m])[5m:])`} {
		if got, err := Instant(in); err == nil {
			t.Errorf("a subquery: %s, no error", got)
		}
	}
}

func TestBool(t *testing.T) {
	for in, want := range map[string]string{
		`a > 0.05`:                              `a > bool 0.05`,
		`a{s!="x",t=~"5.."} >= 1 and b == 2`:    `a{s!="x",t=~"5.."} >= bool 1 and b == bool 2`,
		`a != bool 1`:                           `a != bool 1`,
		`label_replace(a, "c", "x>y", "s", "")`: `label_replace(a, "c", "x>y", "s", "")`,
		`rate(a[5m]) < 3 or b <= 4`:             `rate(a[5m]) < bool 3 or b <= bool 4`,
	} {
		if got := Bool(in); got != want {
			t.Errorf("Bool(%s)\n got %s\nwant %s", in, got, want)
		}
	}
}

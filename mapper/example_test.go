package mapper_test

import (
	"fmt"
	"log"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

func show(m *mapper.Mapper, line string) {
	var p statsd.Parser
	samples, err := p.ParseLine(nil, []byte(line))
	if err != nil {
		log.Fatal(err)
	}
	mp := m.Map(&samples[0])
	if mp.Drop {
		fmt.Printf("%-58s drop\n", line)
		return
	}
	fmt.Printf("%-58s %s %s %q scale=%g", line, mp.Name, mp.Kind, mp.Unit, mp.Scale)
	it := mp.Attributes.Iter()
	for it.Next() {
		kv := it.Attribute()
		fmt.Printf(" %s=%s", kv.Key, kv.Value.String())
	}
	fmt.Println()
}

// The built-in Gunicorn profile needs no configuration: it finds the prefix,
// turns the status code into an attribute and milliseconds into seconds.
func ExampleMapper_Map() {
	m, err := mapper.New()
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range []string{
		"shop.web.gunicorn.request.duration:1.73|ms|#env:prod",
		"shop.web.gunicorn.requests:1|c|@1.0|#env:prod",
		"shop.web.gunicorn.request.status.404:1|c|@1.0|#env:prod",
		"shop.web.gunicorn.workers:3|g|#env:prod",
		"shop.web.gunicorn.log.critical:1|c|@1.0|#env:prod",
		"agunicorn.backlog:2|h",
		"gunicorn.request.status.1234:1|c",
		"shop.web.orders:1|c",
		"shop.web.visitors:alice|s",
	} {
		show(m, line)
	}
	// Output:
	// shop.web.gunicorn.request.duration:1.73|ms|#env:prod       gunicorn.request.duration histogram "s" scale=0.001 app=shop.web env=prod
	// shop.web.gunicorn.requests:1|c|@1.0|#env:prod              gunicorn.requests counter "{request}" scale=1 app=shop.web env=prod
	// shop.web.gunicorn.request.status.404:1|c|@1.0|#env:prod    gunicorn.responses counter "{response}" scale=1 app=shop.web env=prod http.response.status_code=404
	// shop.web.gunicorn.workers:3|g|#env:prod                    gunicorn.workers gauge "{worker}" scale=1 app=shop.web env=prod
	// shop.web.gunicorn.log.critical:1|c|@1.0|#env:prod          gunicorn.log.messages counter "{message}" scale=1 app=shop.web env=prod level=critical
	// agunicorn.backlog:2|h                                      gunicorn.backlog gauge "{connection}" scale=1 app=a
	// gunicorn.request.status.1234:1|c                           gunicorn.responses counter "{response}" scale=1 error.type=invalid_status_code
	// shop.web.orders:1|c                                        shop.web.orders counter "" scale=1
	// shop.web.visitors:alice|s                                  drop
}

// A statsd_exporter mapping file loads unchanged. Its rules come first; the
// Gunicorn profile maps what they do not match.
func ExampleLoadRules() {
	rules, err := mapper.LoadRules("../testdata/mapping/gunicorn-monitoring.yml")
	if err != nil {
		log.Fatal(err)
	}
	m, err := mapper.New(mapper.WithRules(rules))
	if err != nil {
		log.Fatal(err)
	}
	show(m, "myapp.gunicorn.request.status.200:1|c|@1.0")
	show(m, "myapp.gunicorn.request.duration:12.5|ms")
	show(m, "myapp.gunicorn.log.warning:1|c|@1.0")

	// A reference to a capture the match does not have loads, as in
	// statsd_exporter (it expands to ""), with a warning to log once; with
	// StrictRules it is a load error.
	file := []byte(`mappings:
- match: "*.foo.*"
  name: "foo"
  labels:
    app: "$3"
`)
	rules, err = mapper.ParseRules("mapping.yml", file)
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range rules.Warnings() {
		fmt.Println("warning:", w)
	}
	_, err = mapper.ParseRules("mapping.yml", file, mapper.StrictRules())
	fmt.Println("strict:", err)
	// Output:
	// myapp.gunicorn.request.status.200:1|c|@1.0                 gunicorn_response_code counter "" scale=1 app=myapp status=200
	// myapp.gunicorn.request.duration:12.5|ms                    gunicorn_request_duration histogram "s" scale=0.001 app=myapp
	// myapp.gunicorn.log.warning:1|c|@1.0                        gunicorn.log.messages counter "{message}" scale=1 app=myapp level=warning
	// warning: mapping.yml:5: match "*.foo.*": label "app": $3 refers to a capture the match does not have (it has 2): it expands to ""
	// strict: mapping.yml:5: match "*.foo.*": label "app": $3 refers to a capture the match does not have (it has 2): it expands to ""
}

// Tags that would make a Prometheus exposition invalid are left out and
// counted; WithDropBareTags drops tags without a value, as statsd_exporter
// does.
func ExampleMapper_TagStats() {
	m, err := mapper.New(mapper.WithDropBareTags())
	if err != nil {
		log.Fatal(err)
	}
	show(m, "api.latency:12|ms|#le:evil,__name__:x,a.b:1,a_b:2,canary")
	fmt.Printf("%+v\n", m.TagStats())
	// Output:
	// api.latency:12|ms|#le:evil,__name__:x,a.b:1,a_b:2,canary   api.latency histogram "s" scale=0.001 a_b=2
	// {Reserved:2 Conflict:1 Invalid:0 Bare:1 TooMany:0 KeyTooLong:0 ValueTruncated:0}
}

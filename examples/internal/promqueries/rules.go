package promqueries

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string `yaml:"alert"`
			Record string `yaml:"record"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// LoadRules returns the expressions of the Prometheus rule file at path, in
// file order, each named "group/alert" (or "group/record").
func LoadRules(path string) ([]Query, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Query
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			name := r.Alert
			if name == "" {
				name = r.Record
			}
			if r.Expr == "" {
				return nil, fmt.Errorf("%s: rule %s/%s has no expr", path, g.Name, name)
			}
			out = append(out, Query{Where: g.Name + "/" + name, Title: name, Expr: r.Expr, Alert: r.Alert != ""})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rules", path)
	}
	return out, nil
}

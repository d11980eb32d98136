package promqueries

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Datasource is a panel's, a target's or a template variable's datasource.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Target is one query of a panel.
type Target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *Datasource `json:"datasource"`
}

// Panel is a dashboard panel (or row).
type Panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *Datasource              `json:"datasource"`
	Targets    []Target                 `json:"targets"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
}

// Variable is a template variable.
type Variable struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Definition string      `json:"definition"`
	Datasource *Datasource `json:"datasource"`
	IncludeAll bool        `json:"includeAll"`
	Multi      bool        `json:"multi"`
	AllValue   string      `json:"allValue"`
	Query      any         `json:"query"`
}

// Dashboard is the part of a Grafana dashboard's JSON model the tests read.
type Dashboard struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	SchemaVersion int     `json:"schemaVersion"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Panels        []Panel `json:"panels"`
	Templating    struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// LoadDashboard reads the dashboard JSON file at path.
func LoadDashboard(path string) (*Dashboard, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := new(Dashboard)
	if err := json.NewDecoder(strings.NewReader(string(data))).Decode(d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Query is a PromQL query of a dashboard or a rule file, with where it is.
type Query struct {
	// Where names it: "ID title/refId" for a panel's target, "group/name"
	// for a rule.
	Where string
	// Title is the panel's title, or the rule's name.
	Title string
	// Expr is the query as written, template variables included.
	Expr string
	// Alert says whether it is an alerting rule's expression.
	Alert bool
}

// Queries returns every target of the dashboard's panels, in panel order.
func (d *Dashboard) Queries() []Query {
	var out []Query
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, Query{Where: fmt.Sprintf("%d %s/%s", p.ID, p.Title, tg.RefID), Title: p.Title, Expr: tg.Expr})
		}
	}
	return out
}

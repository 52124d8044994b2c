// Package deploy_test holds the checks of the Grafana dashboard and the
// Prometheus rules that ship in deploy/: every metric, label and label
// value they name is one that a real Cache exports, so that renaming a
// metric fails the tests until they follow. promtool checks their PromQL
// and runs the rules' unit tests (make check-deploy).
package deploy_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var queriesOut = flag.String("queries-out", "", "write the dashboard's queries to this file as recording rules, for promtool check rules")

// scrapes holds one scrape per metrics prefix, shared by the tests.
var scrapes = map[string]map[string]*family{}

func scrapeOnce(t *testing.T, prefix string) map[string]*family {
	t.Helper()
	if scrapes[prefix] == nil {
		scrapes[prefix] = scrape(t, prefix)
	}
	return scrapes[prefix]
}

var (
	// A metric name of gcache's: any name holding "gcache_".
	nameRe = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	// A selector with matchers: name{...}.
	selectorRe = regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)\{([^{}]*)\}`)
	matcherRe  = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	groupingRe = regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\(([^)]*)\)`)
	// A label value that is a plain word, or an alternation of them.
	wordsRe = regexp.MustCompile(`^[A-Za-z0-9_.]+(\|[A-Za-z0-9_.]+)*$`)
)

// targetLabels are added by Prometheus when it scrapes; le is a bucket's.
var targetLabels = []string{"job", "instance"}

// freeLabels take any value: only the other labels' values are checked.
var freeLabels = []string{"use_case", "key_type", "job", "instance", "le"}

// lookup returns the family a series name belongs to (a histogram's
// _bucket, _sum and _count belong to it) and whether it is a bucket.
func lookup(fams map[string]*family, name string) (f *family, bucket bool) {
	if f := fams[name]; f != nil && !f.histogram {
		return f, false
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f := fams[base]; f != nil && f.histogram {
				return f, suffix == "_bucket"
			}
		}
	}
	return nil, false
}

// checkPromQL checks that every gcache name in text is exported, that each
// selector's matchers name labels of its family, and values it takes where
// the label is an enumeration, and that groupings name labels that exist.
func checkPromQL(t reporter, where, text string, fams map[string]*family) {
	t.Helper()
	for _, name := range nameRe.FindAllString(text, -1) {
		if strings.Contains(name, "gcache_") {
			if f, _ := lookup(fams, name); f == nil {
				t.Errorf("%s: %s is not a metric gcache exports", where, name)
			}
		}
	}
	allLabels := map[string]bool{"job": true, "instance": true, "le": true}
	for _, f := range fams {
		for l := range f.labels {
			allLabels[l] = true
		}
	}
	for _, m := range groupingRe.FindAllStringSubmatch(text, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !allLabels[l] {
				t.Errorf("%s: %q groups by %s, a label no gcache metric has", where, m[0], l)
			}
		}
	}
	for _, sel := range selectorRe.FindAllStringSubmatch(text, -1) {
		f, bucket := lookup(fams, sel[1])
		if f == nil {
			continue // reported above, or no metric of gcache's
		}
		for _, m := range matcherRe.FindAllStringSubmatch(sel[2], -1) {
			label, value := m[1], m[3]
			if _, ok := f.labels[label]; !ok && !slices.Contains(targetLabels, label) && !(bucket && label == "le") {
				t.Errorf("%s: %s has no label %s", where, sel[1], label)
				continue
			}
			if slices.Contains(freeLabels, label) || strings.Contains(value, "$") {
				continue
			}
			if !wordsRe.MatchString(value) {
				t.Errorf("%s: %s{%s%s%q}: check a label value that is no plain word by hand, or make it one", where, sel[1], label, m[2], value)
				continue
			}
			for _, v := range strings.Split(value, "|") {
				if !f.labels[label][v] {
					t.Errorf("%s: %s{%s=%q}: gcache exports no such value", where, sel[1], label, v)
				}
			}
		}
	}
}

// dashboardQueries returns the dashboard's queries, panel by panel, and
// the queries of its template variables.
func dashboardQueries(t *testing.T) (queries map[string]string, variables []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("grafana", "gcache.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels     []dashPanel `json:"panels"`
		Templating struct {
			List []struct {
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("grafana/gcache.json: %v", err)
	}
	queries = map[string]string{}
	var walk func([]dashPanel)
	walk = func(panels []dashPanel) {
		for _, p := range panels {
			for _, target := range p.Targets {
				queries[fmt.Sprintf("panel %q, query %s", p.Title, target.RefID)] = target.Expr
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("a variable's query: %v", err)
		}
		variables = append(variables, q.Query)
	}
	return queries, variables
}

type dashPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"`
}

// instantiate gives the dashboard's variables the values Grafana would.
func instantiate(q, prefix string) string {
	return strings.NewReplacer("${prefix}", prefix, "$__rate_interval", "5m", "$__range", "1h", "$__interval", "1m").Replace(q)
}

// TestDashboardQueriesExportedMetrics: every metric, label and label
// value the dashboard queries is exported by a real Cache, with no metrics
// prefix and with one (the dashboard's prefix variable).
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	queries, variables := dashboardQueries(t)
	if len(queries) < 20 || len(variables) != 2 {
		t.Fatalf("the dashboard has %d queries and %d query variables", len(queries), len(variables))
	}
	for _, prefix := range []string{"", "shop_"} {
		fams := scrapeOnce(t, prefix)
		for where, q := range queries {
			q = instantiate(q, prefix)
			if prefix != "" && strings.Contains(strings.ReplaceAll(q, prefix+"gcache_", ""), "gcache_") {
				t.Errorf("%s: a name without the prefix variable: %s", where, q)
			}
			checkPromQL(t, where, q, fams)
		}
		for _, v := range variables {
			checkPromQL(t, "variable "+v, instantiate(v, prefix), fams)
		}
	}
	if *queriesOut != "" {
		var b strings.Builder
		b.WriteString("# The dashboard's queries, for promtool check rules.\ngroups:\n  - name: dashboard\n    rules:\n")
		keys := make([]string, 0, len(queries))
		for k := range queries {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			expr, _ := json.Marshal(instantiate(queries[k], ""))
			fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, expr)
		}
		if err := os.WriteFile(*queriesOut, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRulesUseExportedMetrics: every metric, label and label value that
// the alerting rules and their unit tests name is exported by a real
// Cache; the unit tests' input series carry exactly the labels of their
// family; every alert has a unit test.
func TestRulesUseExportedMetrics(t *testing.T) {
	fams := scrapeOnce(t, "")
	rules, err := os.ReadFile(filepath.Join("prometheus", "gcache-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	checkPromQL(t, "gcache-rules.yml", uncommented(rules), fams)
	tests, err := os.ReadFile(filepath.Join("prometheus", "gcache-rules.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	checkPromQL(t, "gcache-rules.test.yml", uncommented(tests), fams)

	series := regexp.MustCompile(`series:\s*'([^']*)'`).FindAllStringSubmatch(string(tests), -1)
	if len(series) < 10 {
		t.Fatalf("the unit tests have %d input series", len(series))
	}
	for _, s := range series {
		sel := selectorRe.FindStringSubmatch(s[1])
		if sel == nil {
			t.Errorf("input series %s: want name{labels}", s[1])
			continue
		}
		f, bucket := lookup(fams, sel[1])
		if f == nil {
			continue // reported by checkPromQL
		}
		var have []string
		for _, m := range matcherRe.FindAllStringSubmatch(sel[2], -1) {
			if !slices.Contains(targetLabels, m[1]) {
				have = append(have, m[1])
			}
		}
		var want []string
		for l := range f.labels {
			want = append(want, l)
		}
		if bucket {
			want = append(want, "le")
		}
		slices.Sort(have)
		slices.Sort(want)
		if !slices.Equal(have, want) {
			t.Errorf("input series %s has labels %q; gcache exports %s with %q", s[1], have, sel[1], want)
		}
	}

	for _, m := range regexp.MustCompile(`(?m)^\s*- alert:\s*(\S+)`).FindAllStringSubmatch(string(rules), -1) {
		if !strings.Contains(string(tests), "alertname: "+m[1]+"\n") {
			t.Errorf("alert %s has no unit test", m[1])
		}
	}
}

// uncommented returns a YAML file without its comment lines.
func uncommented(yaml []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(string(yaml), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestChecksCatchRenames: the checks above fail on a renamed metric, label
// or label value.
func TestChecksCatchRenames(t *testing.T) {
	fams := scrapeOnce(t, "")
	for _, bad := range []string{
		`rate(gcache_requests_total[5m])`,
		`rate(gcache_error_counter_total{kind="timeout"}[5m])`,
		`rate(gcache_disabled_counter_total{reason="breaker_open"}[5m])`,
		`rate(gcache_error_counter_total{error=~"timeout|refused"}[5m])`,
		`sum by (usecase) (rate(gcache_request_counter_total[5m]))`,
		`histogram_quantile(0.9, rate(gcache_get_timer_buckets[5m]))`,
	} {
		var rec recorder
		checkPromQL(&rec, "q", bad, fams)
		if len(rec.errors) == 0 {
			t.Errorf("%s passed the checks", bad)
		}
	}
	var rec recorder
	checkPromQL(&rec, "q", `histogram_quantile(0.9, sum by (le, layer) (rate(gcache_get_timer_bucket{layer="REMOTE", job="x"}[5m])))`, fams)
	if len(rec.errors) != 0 {
		t.Errorf("a good query failed the checks: %q", rec.errors)
	}
}

// reporter is what the checks need of a testing.T.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// recorder is a reporter that keeps the errors it is given.
type recorder struct{ errors []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

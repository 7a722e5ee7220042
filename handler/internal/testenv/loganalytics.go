package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// LogEvent is one ContainerRegistryRepositoryEvents row (the columns Tidewatch's
// query reads; see ../shared/azure-specs/loganalytics/containerregistryrepositoryevents.md).
type LogEvent struct {
	TimeGenerated time.Time
	OperationName string // "Pull", "Push", "Delete", …
	LoginServer   string
	Repository    string
	Digest        string
	UserAgent     string
}

// LogQuery is one query request the fake received.
type LogQuery struct {
	Workspace     string
	Query         string
	Timespan      string
	Authorization string
	Prefer        string
}

// LogAnalytics is an in-process Log Analytics query API
// (POST /v1/workspaces/{id}/query, ../shared/azure-specs/loganalytics) over a TLS
// httptest server, holding ContainerRegistryRepositoryEvents rows. It evaluates only
// the small KQL shapes below (a query with anything else gets the service's 400 for
// a bad query), so a test sees what a query really selects:
//
//	union isfuzzy=true ContainerRegistryRepositoryEvents, (datatable(...)[])   (or the bare table)
//	| where P and P …     with P: Col =~ "s" | Col == "s" | isnotempty(Col) | Col startswith "s" | not(Col startswith "s")
//	| summarize A = max(TimeGenerated), B = count() by Repository, Digest
//
// The request's timespan ("start/end") bounds TimeGenerated (start inclusive, end
// exclusive). Counts are answered as JSON strings, as the service's own example does.
type LogAnalytics struct {
	// URL is the endpoint for azlogs (https), Client trusts its certificate.
	URL    string
	Client *http.Client
	// Token is the bearer token the fake accepts.
	Token string

	workspace string
	mu        sync.Mutex
	events    []LogEvent
	requests  []LogQuery
	answer    func(w http.ResponseWriter, r *http.Request, result []byte) bool
}

// StartLogAnalytics starts the fake for workspace; it stops with the test.
func StartLogAnalytics(t testing.TB, workspace string) *LogAnalytics {
	t.Helper()
	la := &LogAnalytics{workspace: workspace, Token: "fake-log-analytics-token"}
	srv := httptest.NewTLSServer(http.HandlerFunc(la.serve))
	t.Cleanup(srv.Close)
	la.URL, la.Client = srv.URL, srv.Client()
	return la
}

// Credential is a static token credential the fake accepts (tests only).
func (la *LogAnalytics) Credential() azcore.TokenCredential { return StaticToken(la.Token) }

// StaticToken is a credential that always returns token (tests only).
func StaticToken(token string) azcore.TokenCredential { return staticToken(token) }

type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Add stores events.
func (la *LogAnalytics) Add(events ...LogEvent) {
	la.mu.Lock()
	defer la.mu.Unlock()
	la.events = append(la.events, events...)
}

// Answer replaces the answer to the next queries: f gets the JSON the fake would
// have answered (nil for a query it rejects) and returns false to let it through.
// nil restores normal answers.
func (la *LogAnalytics) Answer(f func(w http.ResponseWriter, r *http.Request, result []byte) bool) {
	la.mu.Lock()
	defer la.mu.Unlock()
	la.answer = f
}

// Requests returns the queries received so far.
func (la *LogAnalytics) Requests() []LogQuery {
	la.mu.Lock()
	defer la.mu.Unlock()
	return append([]LogQuery(nil), la.requests...)
}

// PartialAnswer answers result with the service's partial-failure error object next
// to its tables (HTTP 200).
func PartialAnswer(w http.ResponseWriter, _ *http.Request, result []byte) bool {
	var body map[string]any
	if err := json.Unmarshal(result, &body); err != nil {
		body = map[string]any{"tables": []any{}}
	}
	body["error"] = map[string]any{
		"code":    "PartialError",
		"message": "There were some errors when processing your query.",
		"details": []any{map[string]any{
			"code": "EngineError", "message": "Something went wrong processing your query on the server.",
			"innererror": map[string]any{"code": "-2133196797", "message": "Query execution has exceeded the allowed limits.",
				"severity": 2, "severityName": "Error"},
		}},
	}
	writeJSON(w, http.StatusOK, body)
	return true
}

// HangingAnswer answers nothing until the client gives up.
func HangingAnswer(_ http.ResponseWriter, r *http.Request, _ []byte) bool {
	<-r.Context().Done()
	return true
}

// StatusAnswer answers status with the service's error body.
func StatusAnswer(status int, code string) func(http.ResponseWriter, *http.Request, []byte) bool {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) bool {
		writeJSON(w, status, errorBody(code, http.StatusText(status)))
		return true
	}
}

func errorBody(code, message string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": message}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (la *LogAnalytics) serve(w http.ResponseWriter, r *http.Request) {
	workspace, ok := strings.CutPrefix(r.URL.Path, "/v1/workspaces/")
	workspace, ok2 := strings.CutSuffix(workspace, "/query")
	if r.Method != http.MethodPost || !ok || !ok2 {
		writeJSON(w, http.StatusNotFound, errorBody("PathNotFoundError", "The requested path does not exist"))
		return
	}
	var body struct {
		Query    string `json:"query"`
		Timespan string `json:"timespan"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	la.mu.Lock()
	la.requests = append(la.requests, LogQuery{Workspace: workspace, Query: body.Query, Timespan: body.Timespan,
		Authorization: r.Header.Get("Authorization"), Prefer: r.Header.Get("Prefer")})
	events, answer := append([]LogEvent(nil), la.events...), la.answer
	la.mu.Unlock()
	switch {
	case r.Header.Get("Authorization") != "Bearer "+la.Token:
		writeJSON(w, http.StatusUnauthorized, errorBody("InvalidTokenError", "The provided authentication is not valid for this resource"))
		return
	case workspace != la.workspace:
		writeJSON(w, http.StatusNotFound, errorBody("WorkspaceNotFoundError", "Workspace "+workspace+" not found"))
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, errorBody("BadArgumentError", "the request body is not a query: "+err.Error()))
		return
	}
	result, qerr := evaluate(body.Query, body.Timespan, events)
	if answer != nil && answer(w, r, result) {
		return
	}
	if qerr != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("BadArgumentError", qerr.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(result)
}

var (
	reEq         = regexp.MustCompile(`^(\w+) (=~|==) ("(?:[^"\\]|\\.)*")$`)
	reNotEmpty   = regexp.MustCompile(`^isnotempty\((\w+)\)$`)
	reStarts     = regexp.MustCompile(`^(\w+) startswith ("(?:[^"\\]|\\.)*")$`)
	reNotStarts  = regexp.MustCompile(`^not\((\w+) startswith ("(?:[^"\\]|\\.)*")\)$`)
	reSummarize  = regexp.MustCompile(`^summarize (\w+) = max\(TimeGenerated\), (\w+) = count\(\) by Repository, Digest$`)
	reUnionFuzzy = regexp.MustCompile(`^union isfuzzy=true ContainerRegistryRepositoryEvents,\s*\(datatable\([^)]*\)\[\]\)$`)
)

// evaluate runs the supported KQL shapes over events and returns the response body.
func evaluate(query, timespan string, events []LogEvent) ([]byte, error) {
	stages := strings.Split(query, "\n|")
	source := strings.Join(strings.Fields(stages[0]), " ")
	if source != "ContainerRegistryRepositoryEvents" && !reUnionFuzzy.MatchString(source) {
		return nil, fmt.Errorf("unsupported source %q", source)
	}
	rows := events
	if timespan != "" {
		start, end, ok := strings.Cut(timespan, "/")
		from, err1 := time.Parse(time.RFC3339, start)
		to, err2 := time.Parse(time.RFC3339, end)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("unsupported timespan %q", timespan)
		}
		rows = filter(rows, func(e LogEvent) bool { return !e.TimeGenerated.Before(from) && e.TimeGenerated.Before(to) })
	}
	var summary []string
	for _, stage := range stages[1:] {
		stage = strings.TrimSpace(stage)
		if m := reSummarize.FindStringSubmatch(stage); m != nil {
			summary = m[1:]
			continue
		}
		if summary != nil {
			return nil, fmt.Errorf("unsupported stage after summarize: %q", stage)
		}
		cond, ok := strings.CutPrefix(stage, "where ")
		if !ok {
			return nil, fmt.Errorf("unsupported stage %q", stage)
		}
		for _, p := range strings.Split(cond, " and ") {
			keep, err := predicate(strings.TrimSpace(p))
			if err != nil {
				return nil, err
			}
			rows = filter(rows, keep)
		}
	}
	if summary == nil {
		return nil, fmt.Errorf("unsupported query: no summarize")
	}
	return summarizeRows(rows, summary[0], summary[1])
}

func predicate(p string) (func(LogEvent) bool, error) {
	if m := reEq.FindStringSubmatch(p); m != nil {
		col, lit, err := column(m[1], m[3])
		if err != nil {
			return nil, err
		}
		if m[2] == "=~" {
			return func(e LogEvent) bool { return strings.EqualFold(col(e), lit) }, nil
		}
		return func(e LogEvent) bool { return col(e) == lit }, nil
	}
	if m := reNotEmpty.FindStringSubmatch(p); m != nil {
		col, _, err := column(m[1], `""`)
		if err != nil {
			return nil, err
		}
		return func(e LogEvent) bool { return col(e) != "" }, nil
	}
	if m := reStarts.FindStringSubmatch(p); m != nil {
		col, lit, err := column(m[1], m[2])
		if err != nil {
			return nil, err
		}
		return func(e LogEvent) bool { return hasPrefixFold(col(e), lit) }, nil
	}
	if m := reNotStarts.FindStringSubmatch(p); m != nil {
		col, lit, err := column(m[1], m[2])
		if err != nil {
			return nil, err
		}
		return func(e LogEvent) bool { return !hasPrefixFold(col(e), lit) }, nil
	}
	return nil, fmt.Errorf("unsupported predicate %q", p)
}

func column(name, literal string) (func(LogEvent) string, string, error) {
	lit, err := strconv.Unquote(literal)
	if err != nil {
		return nil, "", fmt.Errorf("bad string literal %s", literal)
	}
	cols := map[string]func(LogEvent) string{
		"OperationName": func(e LogEvent) string { return e.OperationName },
		"LoginServer":   func(e LogEvent) string { return e.LoginServer },
		"Repository":    func(e LogEvent) string { return e.Repository },
		"Digest":        func(e LogEvent) string { return e.Digest },
		"UserAgent":     func(e LogEvent) string { return e.UserAgent },
	}
	col, ok := cols[name]
	if !ok {
		return nil, "", fmt.Errorf("unknown column %q", name)
	}
	return col, lit, nil
}

// hasPrefixFold is KQL's startswith: case-insensitive.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func filter(events []LogEvent, keep func(LogEvent) bool) []LogEvent {
	var out []LogEvent
	for _, e := range events {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func summarizeRows(events []LogEvent, lastName, countName string) ([]byte, error) {
	type agg struct {
		last  time.Time
		count int
	}
	groups := map[[2]string]*agg{}
	for _, e := range events {
		k := [2]string{e.Repository, e.Digest}
		g := groups[k]
		if g == nil {
			g = &agg{}
			groups[k] = g
		}
		g.count++
		if e.TimeGenerated.After(g.last) {
			g.last = e.TimeGenerated
		}
	}
	keys := make([][2]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"@"+keys[i][1] < keys[j][0]+"@"+keys[j][1] })
	rows := make([][]any, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		rows = append(rows, []any{k[0], k[1], g.last.UTC().Format(time.RFC3339Nano), strconv.Itoa(g.count)})
	}
	return json.Marshal(map[string]any{"tables": []any{map[string]any{
		"name": "PrimaryResult",
		"columns": []any{
			map[string]string{"name": "Repository", "type": "string"},
			map[string]string{"name": "Digest", "type": "string"},
			map[string]string{"name": lastName, "type": "datetime"},
			map[string]string{"name": countName, "type": "long"},
		},
		"rows": rows,
	}}})
}

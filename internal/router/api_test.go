package router

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestAPI(t *testing.T) {
	tab, err := OpenTable(filepath.Join(t.TempDir(), "routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	api := API{Table: tab, Metrics: m}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/routes", api.List)
	mux.HandleFunc("POST /api/v1/routes", api.Add)
	mux.HandleFunc("POST /api/v1/routes/remove", api.Remove)
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, path, rec.Body)
		}
		return rec.Code, v
	}

	steps := []struct {
		name, method, path, body string
		code                     int
		field, want              string // a field of the answer and a part of its value
	}{
		{"add", "POST", "/api/v1/routes", `{"name":"API","port":3000}`, 200, "name", "api"},
		{"add kind", "POST", "/api/v1/routes", `{"name":"web","port":5173}`, 200, "kind", "persistent"},
		{"add again is fine", "POST", "/api/v1/routes", `{"name":"api","port":3000}`, 200, "name", "api"},
		{"add run route", "POST", "/api/v1/routes", `{"name":"dev","port":4000,"kind":"run","pid":77}`, 200, "kind", "run"},
		{"add run route of a project", "POST", "/api/v1/routes", `{"name":"shop-api","port":4100,"kind":"run","pid":78,"project":"shop"}`, 200, "project", "shop"},
		{"bad project", "POST", "/api/v1/routes", `{"name":"x","port":1,"project":"a\nb"}`, 400, "error", "control character"},
		{"conflict", "POST", "/api/v1/routes", `{"name":"api","port":3001}`, 409, "hint", "homeport route rm api"},
		{"conflict with run", "POST", "/api/v1/routes", `{"name":"dev","port":4001}`, 409, "hint", "pid 77"},
		{"bad name", "POST", "/api/v1/routes", `{"name":"my_app","port":3000}`, 400, "error", `'_' at position 3`},
		{"bad port", "POST", "/api/v1/routes", `{"name":"x","port":0}`, 400, "error", "out of range"},
		{"unknown field", "POST", "/api/v1/routes", `{"name":"x","port":1,"host":"evil"}`, 400, "error", "unknown field"},
		{"not json", "POST", "/api/v1/routes", `name=x`, 400, "error", "reading the request"},
		{"remove", "POST", "/api/v1/routes/remove", `{"name":"Web"}`, 200, "port", ""},
		{"remove again", "POST", "/api/v1/routes/remove", `{"name":"web"}`, 404, "hint", "homeport routes"},
		{"remove bad name", "POST", "/api/v1/routes/remove", `{"name":"-x"}`, 400, "error", "starts with"},
	}
	for _, s := range steps {
		code, v := do(s.method, s.path, s.body)
		if code != s.code {
			t.Errorf("%s: %s %s %s = %d %v; want %d", s.name, s.method, s.path, s.body, code, v, s.code)
			continue
		}
		if got := toString(v[s.field]); !strings.Contains(got, s.want) || got == "" {
			t.Errorf("%s: field %s = %q; want it to contain %q", s.name, s.field, got, s.want)
		}
	}
	code, v := do("GET", "/api/v1/routes", "")
	if code != 200 {
		t.Fatalf("GET routes = %d", code)
	}
	b, _ := json.Marshal(v["routes"])
	var got []Route
	json.Unmarshal(b, &got)
	if names := routeNames(got); names != "api,dev,shop-api" {
		t.Errorf("routes after the steps = %q; want api,dev,shop-api", names)
	}
	for _, r := range got {
		if want := map[string]string{"shop-api": "shop"}[r.Name]; r.Project != want {
			t.Errorf("route %s has project %q; want %q", r.Name, r.Project, want)
		}
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

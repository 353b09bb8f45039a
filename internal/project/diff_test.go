package project

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiff(t *testing.T) {
	const base = `
[services.db]
run = "postgres -p ${port}"
port = 41001

[services.api]
run = "api --db ${db.port}"
port = 41002
after = ["db"]

[services.web]
run = "vite"
env = { API = "${api.url}" }
after = ["api"]

[services.worker]
run = "worker"
env = { DB = "localhost:${db.port}" }
`
	tests := []struct {
		name string
		edit string
		want []Change
	}{
		{"nothing", base, nil},
		{"db's port: db and those that refer to its port", replace(base, "port = 41001", "port = 41011"), []Change{
			{Service: "db", Kind: ChangeRestart, OldPort: 41001, NewPort: 41011, Edited: []string{"port"}},
			{Service: "api", Kind: ChangeRestart, OldPort: 41002, NewPort: 41002, Because: []string{"db"}},
			{Service: "worker", Kind: ChangeRestart, OldPort: 0, NewPort: 0, Because: []string{"db"}},
		}},
		// web refers to api's URL, which does not change with api's port:
		// the router follows the service.
		{"api's port: api only", replace(base, "port = 41002", "port = 41012"), []Change{
			{Service: "api", Kind: ChangeRestart, OldPort: 41002, NewPort: 41012, Edited: []string{"port"}},
		}},
		{"api's run: api only", replace(base, `"api --db ${db.port}"`, `"api2 --db ${db.port}"`), []Change{
			{Service: "api", Kind: ChangeRestart, OldPort: 41002, NewPort: 41002, Edited: []string{"run"}},
		}},
		{"web's env", replace(base, `API = "${api.url}"`, `API = "${api.url}/v2"`), []Change{
			{Service: "web", Kind: ChangeRestart, Edited: []string{"env"}},
		}},
		{"after and ready alone restart nothing", replace(base, `after = ["api"]`, "after = [\"api\", \"db\"]\nready = \"${port}\""), nil},
		{"a service added and one removed", replace(base, "[services.worker]\nrun = \"worker\"", "[services.jobs]\nrun = \"jobs\"\nport = 41003\n[services.worker2]\nrun = \"worker\""), []Change{
			{Service: "jobs", Kind: ChangeStart, NewPort: 41003},
			{Service: "worker2", Kind: ChangeStart},
			{Service: "worker", Kind: ChangeStop},
		}},
	}
	oldPlan := plan(t, loadDoc(t, base), PlanOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newFile := loadDoc(t, tt.edit)
			// Both files are planned as if from one folder.
			newFile.Dir = oldPlan.File.Dir
			newPlan := plan(t, newFile, PlanOptions{Current: oldPlan.Picked()})
			got := Diff(oldPlan, newPlan)
			// Picked ports vary by machine: compare them apart.
			for i := range got {
				for _, s := range []struct {
					p    *Plan
					port *uint16
				}{{oldPlan, &got[i].OldPort}, {newPlan, &got[i].NewPort}} {
					if ps := s.p.service(got[i].Service); ps != nil && !ps.Fixed {
						*s.port = 0
					}
				}
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Diff (-want +got):\n%s", d)
			}
		})
	}
}

func TestRestarts(t *testing.T) {
	p := plan(t, loadDoc(t, `
[services.db]
run = "postgres -p ${port}"
[services.api]
run = "api --db localhost:${db.port}"
after = ["db"]
[services.web]
run = "vite --api ${api.url}"
after = ["api"]
[services.worker]
run = "worker"
env = { DB = "${db.port}", SELF = "${worker.port}" }
[services.docs]
run = "docs"
after = ["db"]
`), PlanOptions{})
	tests := []struct {
		name string
		want []string
	}{
		{"db", []string{"db", "api", "worker"}},
		// web names api's URL, which the router keeps while api moves.
		{"api", []string{"api"}},
		{"worker", []string{"worker"}},
		{"docs", []string{"docs"}},
		{"nope", nil},
	}
	for _, tt := range tests {
		if got := p.Restarts(tt.name); !cmp.Equal(got, tt.want) {
			t.Errorf("Restarts(%q) = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// Moving a fixed port where a picked one was moves the picked one, and
// restarts those that refer to it.
func TestDiffPickedPortTaken(t *testing.T) {
	dir := t.TempDir()
	write := func(doc string) *File {
		path := filepath.Join(dir, FileName)
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Load(path, FileName)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	oldPlan := plan(t, write("[services.api]\nrun = \"x\"\n[services.web]\nrun = \"x ${api.port}\"\n[services.db]\nrun = \"x\"\nport = 41020\n"), PlanOptions{})
	apiPort := oldPlan.service("api").Port
	newPlan := plan(t, write("[services.api]\nrun = \"x\"\n[services.web]\nrun = \"x ${api.port}\"\n[services.db]\nrun = \"x\"\nport = "+itoa(apiPort)+"\n"),
		PlanOptions{Current: oldPlan.Picked()})
	got := Diff(oldPlan, newPlan)
	var names []string
	for _, c := range got {
		names = append(names, c.Service)
	}
	if d := cmp.Diff([]string{"api", "db", "web"}, names); d != "" || newPlan.service("api").Port == apiPort {
		t.Errorf("Diff = %+v; want api (moved), db and web restarted (-want +got):\n%s", got, d)
	}
}

func replace(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic("replace: " + old + " not in the text")
}

func itoa(p uint16) string { return string(appendUint(nil, uint64(p))) }

func appendUint(b []byte, n uint64) []byte {
	if n >= 10 {
		b = appendUint(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

//go:build linux

package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPrometheusScrapes runs a real Prometheus against the daemon's
// /metrics (with the token as a bearer credentials file), and asks its HTTP
// API for the listener this test opened. promtool checks the exposition.
func TestPrometheusScrapes(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (scripts/test installs it)")
	}
	dir := stateHome(t)
	port := freePort(t)
	r := runDaemon(t, Options{Port: port, Interval: 200 * time.Millisecond, Version: "test"})
	r.waitReady(t)

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lp := ln.Addr().(*net.TCPAddr).Port

	// promtool on what the daemon serves.
	c, _, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	body := scrape(t, c)
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		t.Error("promtool not found beside prometheus")
	}
	for _, bad := range []string{"pid=", "cmdline=", "user="} {
		if bytes.Contains(body, []byte(bad)) {
			t.Errorf("metrics carry an unbounded label %q", bad)
		}
	}

	work := t.TempDir()
	webPort := freePort(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: homeport
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: %s
    static_configs:
      - targets: ["127.0.0.1:%d"]
`, TokenPath(dir), port)
	cfgPath := filepath.Join(work, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(prom, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(work, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(webPort))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})

	q := fmt.Sprintf(`homeport_listener_info{port="%d",proto="tcp",address="127.0.0.1",exposure="loopback"}`, lp)
	api := "http://127.0.0.1:" + strconv.Itoa(webPort) + "/api/v1/query?query=" + url.QueryEscape(q)
	deadline := time.Now().Add(90 * time.Second)
	for {
		var res struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
				} `json:"result"`
			} `json:"data"`
		}
		resp, err := http.Get(api)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if json.Unmarshal(b, &res) == nil && res.Status == "success" && len(res.Data.Result) == 1 {
				m := res.Data.Result[0].Metric
				if m["job"] != "homeport" || m["process"] == "" {
					t.Errorf("series %v; want job homeport and the process name", m)
				}
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus has no %s after 90s (last error %v)\n%s", q, err, tail(logs.String(), 2000))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// scrape reads /metrics once the watcher has taken its first inventory.
func scrape(t *testing.T, c *Client) []byte {
	t.Helper()
	var b []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", c.Base+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+c.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/metrics = %d %s", resp.StatusCode, b)
		}
		if bytes.Contains(b, []byte("homeport_last_poll_timestamp_seconds ")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, name := range []string{"homeport_listener_info{", "homeport_listeners{", "homeport_build_info{", "homeport_polls_total", "homeport_scrape_duration_seconds", "homeport_poll_duration_seconds_bucket"} {
		if !bytes.Contains(b, []byte(name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	return b
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestMetricsAddr serves /metrics alone on another address with a bearer
// token; nothing else answers there.
func TestMetricsAddr(t *testing.T) {
	stateHome(t)
	port := freePort(t)
	maddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	r := runDaemon(t, Options{Port: port, MetricsAddr: maddr, MetricsToken: "s3cret-token"})
	ready := r.waitReady(t)
	if ready.Metrics != maddr {
		t.Fatalf("metrics on %q; want %q", ready.Metrics, maddr)
	}
	c, _, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	scrape(t, c) // the first inventory is in
	tests := []struct {
		path, auth string
		want       int
	}{
		{"/metrics", "Bearer s3cret-token", 200},
		{"/metrics", "", 401},
		{"/metrics", "Bearer nope", 401},
		{"/api/v1/ports", "Bearer s3cret-token", 404},
		{"/", "Bearer s3cret-token", 404},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", "http://"+maddr+tt.path, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s (%q) = %d; want %d", tt.path, tt.auth, resp.StatusCode, tt.want)
		}
		if tt.want == 200 && !strings.Contains(string(b), "homeport_listener_info") {
			t.Errorf("metrics address serves no homeport_listener_info")
		}
	}
}

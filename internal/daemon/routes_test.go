package daemon

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"homeport/internal/router"
)

// getVia sends GET / to the daemon on 127.0.0.1 with host in Host, as a
// browser does for NAME.localhost.
func getVia(t *testing.T, port int, host string) (*http.Response, string) {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://"+host+"/", nil)
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET via Host %s: %v", host, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestRoutesThroughTheDaemon(t *testing.T) {
	stateHome(t)
	port := freePort(t)
	p := strconv.Itoa(port)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "app saw Host "+r.Host)
	}))
	defer backend.Close()
	bport := backend.Listener.Addr().(*net.TCPAddr).Port

	r := runDaemon(t, Options{Port: port, Version: "test"})
	r.waitReady(t)
	ctx := context.Background()

	rt, gotPort, err := AddRoute(ctx, "Web", bport)
	if err != nil || rt.Name != "web" || rt.Port != bport || rt.Kind != router.KindPersistent || gotPort != port {
		t.Fatalf("AddRoute(Web) = %+v, %d, %v", rt, gotPort, err)
	}
	if _, _, err := AddRoute(ctx, "self", port); err != nil {
		t.Fatal(err)
	}

	res, body := getVia(t, port, "web.localhost:"+p)
	if res.StatusCode != 200 || body != "app saw Host web.localhost:"+p {
		t.Errorf("GET web.localhost = %d %q; want the app's answer with its Host", res.StatusCode, body)
	}
	// The app's answer is its own: none of the dashboard's headers (its
	// CSP would block an app's inline scripts).
	for _, h := range []string{"Content-Security-Policy", "Cross-Origin-Resource-Policy", "X-Frame-Options"} {
		if v := res.Header.Get(h); v != "" {
			t.Errorf("proxied answer has %s: %q; want the app's headers only", h, v)
		}
	}
	if res, body := getVia(t, port, "nope.localhost:"+p); res.StatusCode != 404 || !strings.Contains(body, "web") {
		t.Errorf("GET nope.localhost = %d %q; want 404 listing web", res.StatusCode, body)
	}
	if res, _ := getVia(t, port, "self.localhost:"+p); res.StatusCode != http.StatusLoopDetected {
		t.Errorf("GET self.localhost (a route to the daemon's port) = %d; want 508", res.StatusCode)
	}
	if res, _ := getVia(t, port, "evil.example:"+p); res.StatusCode != 403 {
		t.Errorf("GET with Host evil.example = %d; want 403", res.StatusCode)
	}
	if res, _ := getVia(t, port, "localhost:"+p); res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET localhost = %d, CSP %q; want the dashboard with its headers", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}

	_, _, err = AddRoute(ctx, "web", bport+1)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 409 || !strings.Contains(ae.Hint, "homeport route rm web") {
		t.Errorf("AddRoute(web) to another port = %v; want 409 with a hint", err)
	}

	c, _, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", c.Base+"/metrics", nil)
	req.Header.Set("X-Homeport-Token", c.Token)
	mres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mres.Body)
	mres.Body.Close()
	if want := `homeport_router_requests_total{code="200",route="web"} 1`; !strings.Contains(string(mb), want) {
		t.Errorf("/metrics lacks %s", want)
	}

	// The route lasts across a restart of the daemon.
	r.stop()
	err = <-r.done
	r.done <- err // for runDaemon's cleanup
	if err != nil {
		t.Fatal(err)
	}
	r2 := runDaemon(t, Options{Port: port, Version: "test"})
	r2.waitReady(t)
	routes, _, err := Routes(ctx)
	if err != nil || len(routes) != 2 || routes[1].Name != "web" || routes[1].Port != bport {
		t.Fatalf("Routes after a restart = %+v, %v; want self and web", routes, err)
	}
	if res, _ := getVia(t, port, "web.localhost:"+p); res.StatusCode != 200 {
		t.Errorf("GET web.localhost after a restart = %d", res.StatusCode)
	}
	if rt, err := RemoveRoute(ctx, "WEB"); err != nil || rt.Name != "web" {
		t.Errorf("RemoveRoute(WEB) = %+v, %v", rt, err)
	}
	if _, err := RemoveRoute(ctx, "web"); !errors.As(err, &ae) || ae.Status != 404 {
		t.Errorf("RemoveRoute(web) again = %v; want 404", err)
	}
	if res, _ := getVia(t, port, "web.localhost:"+p); res.StatusCode != 404 {
		t.Errorf("GET web.localhost after rm = %d; want 404", res.StatusCode)
	}
}

// TestRunRouteGoesWithItsProcess: a `homeport run` route whose process died
// without removing it (SIGKILL) is dropped by the daemon; a route of a live
// process and a persistent route stay.
func TestRunRouteGoesWithItsProcess(t *testing.T) {
	stateHome(t)
	port := freePort(t)
	r := runDaemon(t, Options{Port: port, Version: "test", Interval: 100 * time.Millisecond})
	r.waitReady(t)
	ctx := context.Background()
	c, _, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sleep", "600")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	add := func(name string, kind router.Kind, pid int) {
		t.Helper()
		var rt router.Route
		if err := c.do(ctx, http.MethodPost, "/api/v1/routes", router.AddRequest{Name: name, Port: 1, Kind: kind, PID: pid}, &rt); err != nil {
			t.Fatalf("adding %s: %v", name, err)
		}
	}
	add("gone", router.KindRun, child.Process.Pid)
	add("alive", router.KindRun, os.Getpid())
	add("kept", router.KindPersistent, 0)

	child.Process.Kill()
	child.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		routes, _, err := Routes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, rt := range routes {
			names = append(names, rt.Name)
		}
		slices.Sort(names)
		if slices.Equal(names, []string{"alive", "kept"}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("routes = %v; want the dead process's route gone, alive and kept left", names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunRouteCarriesItsProject: a run route registered with a project
// keeps it through the daemon's API, and `homeport routes` (Routes) shows
// it; one without a project has none.
func TestRunRouteCarriesItsProject(t *testing.T) {
	stateHome(t)
	port := freePort(t)
	r := runDaemon(t, Options{Port: port, Version: "test", Interval: 100 * time.Millisecond})
	r.waitReady(t)
	ctx := context.Background()
	rt, dport, err := AddRunRoute(ctx, RunRoute{Name: "Shop-API", Port: 4100, PID: os.Getpid(), Project: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if rt.Name != "shop-api" || rt.Project != "shop" || rt.Kind != router.KindRun || dport != port {
		t.Errorf("AddRunRoute = %+v on port %d; want shop-api of project shop, kind run, on port %d", rt, dport, port)
	}
	if _, _, err := AddRunRoute(ctx, RunRoute{Name: "solo", Port: 4200, PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	// The same name from the same owner for another project is a conflict,
	// not a silent change of project.
	_, _, err = AddRunRoute(ctx, RunRoute{Name: "shop-api", Port: 4100, PID: os.Getpid(), Project: "other"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("AddRunRoute of shop-api for another project = %v; want 409", err)
	}
	_, _, err = AddRunRoute(ctx, RunRoute{Name: "bad", Port: 4300, PID: os.Getpid(), Project: "a\tb"})
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "control character") {
		t.Errorf("AddRunRoute with a tab in the project = %v; want 400 naming the control character", err)
	}
	routes, _, err := Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range routes {
		got[r.Name] = r.Project
	}
	if d := cmp.Diff(map[string]string{"shop-api": "shop", "solo": ""}, got); d != "" {
		t.Errorf("routes' projects (-want +got):\n%s", d)
	}
}

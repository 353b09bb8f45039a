//go:build linux

package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium with a fresh profile.
func browser(t testing.TB) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (scripts/test installs it)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	// Start the browser now. The first call's context must have no
	// deadline: it is the browser's lifetime.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// run runs browser actions with a deadline.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that returns a value, with a deadline.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitJS polls a JavaScript expression until it is true.
func waitJS(t testing.TB, ctx context.Context, what, expr string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, err := chromedp.Run(cctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s still false after 30s (last error %v)", what, expr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func rowSel(port int) string { return fmt.Sprintf(`tr.sock[data-port="%d"]`, port) }

func artifactPath(name string) string {
	dir := os.Getenv("HOMEPORT_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	_ = os.MkdirAll(dir, 0o755)
	return filepath.Join(dir, name)
}

// TestDashboardInBrowser drives the real page in headless Chromium against a
// real daemon: login, a listener appearing and going, a command line that
// holds HTML shown as text, Kill on a child's port, and a screenshot.
func TestDashboardInBrowser(t *testing.T) {
	stateHome(t)
	ctx := browser(t)
	port := freePort(t)
	r := runDaemon(t, Options{Port: port, Interval: 200 * time.Millisecond})
	ready := r.waitReady(t)

	run(t, ctx, "login", chromedp.Navigate(ready.LoginURL))
	loc := value(t, ctx, "location", chromedp.Location())
	if loc != "http://127.0.0.1:"+strconv.Itoa(port)+"/" {
		t.Errorf("after login the page is at %q; want the dashboard without the code", loc)
	}
	waitJS(t, ctx, "the daemon's own row", fmt.Sprintf(`!!document.querySelector('%s')`, rowSel(port)))

	// A listener this test opens appears, and goes when it closes.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lp := ln.Addr().(*net.TCPAddr).Port
	took := waitJS(t, ctx, "new listener's row", fmt.Sprintf(`!!document.querySelector('%s:not([data-gone])')`, rowSel(lp)))
	t.Logf("listener on port %d shown %v after listen()", lp, took)

	// Routes beside the listeners: a route's name in the row of the
	// listener that serves it, and the Routes view telling a route that
	// nothing serves from one that is served.
	if _, _, err := AddRoute(context.Background(), "web", lp); err != nil {
		t.Fatal(err)
	}
	if _, _, err := AddRoute(context.Background(), "ghost", freePort(t)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the route in the listener's row", fmt.Sprintf(`(document.querySelector('%s td.route') || {}).textContent === 'web.localhost'`, rowSel(lp)))
	run(t, ctx, "open Routes", chromedp.Click(chromedp.CSS(`#tab-routes`)))
	waitJS(t, ctx, "routes served and not", `!!document.querySelector('tr.route-row[data-route=web][data-served=yes]') && !!document.querySelector('tr.route-row[data-route=ghost][data-served=no]')`)
	run(t, ctx, "back to Listeners", chromedp.Click(chromedp.CSS(`#tab-ports`)))
	ln.Close()
	waitJS(t, ctx, "closed listener's row to go", fmt.Sprintf(`!document.querySelector('%s')`, rowSel(lp)))

	// A command line holding HTML is text.
	evil := "<img src=x onerror=alert(1)>"
	h := startHolderArgs(t, "127.0.0.1:0", evil)
	waitJS(t, ctx, "holder's row", fmt.Sprintf(`!!document.querySelector('%s')`, rowSel(h.port)))
	cmdText := value(t, ctx, "the command cell", chromedp.TextContent(chromedp.CSS(rowSel(h.port)+" td.cmd")))
	imgs := value(t, ctx, "img count", chromedp.Evaluate[int](`document.querySelectorAll('#ports img').length`))
	if !strings.Contains(cmdText, evil) || imgs != 0 {
		t.Errorf("command cell %q with %d img elements; want the markup as text and no img", cmdText, imgs)
	}

	shot := artifactPath("homeport-dashboard.png")
	png := value(t, ctx, "screenshot", chromedp.CaptureScreenshot())
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// Kill: open the row, press Kill, confirm; the child exits and the
	// row says so.
	run(t, ctx, "open the row and press Kill",
		chromedp.Click(chromedp.CSS(rowSel(h.port))),
		chromedp.WaitVisible(chromedp.CSS(`tr.details button.kill`)))
	// The details name the owner's full command line; Doctor gives its
	// verdict in the row.
	waitJS(t, ctx, "the details' command line", `[...document.querySelectorAll('tr.details dd')].some(e => e.textContent.includes(`+strconv.Quote(evil)+`))`)
	run(t, ctx, "press Doctor", chromedp.Click(chromedp.CSS(`tr.details button.doctor`)))
	waitJS(t, ctx, "the doctor's verdict", `document.querySelector('tr.details .result').textContent.includes('localhost:`+strconv.Itoa(h.port)+`')`)
	run(t, ctx, "press Kill",
		chromedp.Click(chromedp.CSS(`tr.details button.kill`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-ok`)))
	ask := value(t, ctx, "confirm text", chromedp.TextContent(chromedp.CSS(`#confirm-text`)))
	if !strings.Contains(ask, "(pid "+strconv.Itoa(h.cmd.Process.Pid)+")") {
		t.Errorf("confirm dialog %q does not name pid %d", ask, h.cmd.Process.Pid)
	}
	run(t, ctx, "confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	select {
	case <-h.done:
		h.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("the child still runs after Kill")
	}
	// Kill answers once the port is free: the child has exited, or is
	// still on its way out.
	waitJS(t, ctx, "kill outcome in the row", `[...document.querySelectorAll('tr.details .outcome')].some(e => /exited on SIGTERM|stopped listening on SIGTERM/.test(e.textContent))`)

	shot2 := artifactPath("homeport-dashboard-kill.png")
	if err := os.WriteFile(shot2, value(t, ctx, "screenshot", chromedp.CaptureScreenshot()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot after Kill: %s", shot2)

	// A phone-width window hides the wide columns and keeps the rest.
	run(t, ctx, "phone width", chromedp.EmulateViewport(390, 800, chromedp.EmulateMobile))
	waitJS(t, ctx, "narrow layout", `getComputedStyle(document.querySelector('th[data-key=command]')).display === 'none' && document.querySelector('#ports').getBoundingClientRect().width <= window.innerWidth`)
	shot3 := artifactPath("homeport-dashboard-phone.png")
	if err := os.WriteFile(shot3, value(t, ctx, "screenshot", chromedp.CaptureScreenshot()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot at phone width: %s", shot3)
	run(t, ctx, "back to desktop width", chromedp.EmulateReset())

	// The Audit view lists what audit finds.
	run(t, ctx, "open Audit", chromedp.Click(chromedp.CSS(`#tab-audit`)))
	waitJS(t, ctx, "the audit", `document.querySelector('#audit').childElementCount > 0`)
}

// TestCrossOriginPage: a page from another origin (127.0.0.2) in the same
// browser, which is logged in to the dashboard, can neither read the API nor
// kill anything.
func TestCrossOriginPage(t *testing.T) {
	stateHome(t)
	ctx := browser(t)
	port := freePort(t)
	r := runDaemon(t, Options{Port: port, Interval: 200 * time.Millisecond})
	ready := r.waitReady(t)
	run(t, ctx, "login", chromedp.Navigate(ready.LoginURL))
	waitJS(t, ctx, "dashboard rows", `document.querySelectorAll('tr.sock').length > 0`)

	h := startHolder(t, "127.0.0.1:0")
	c, _, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	var who struct {
		Sockets []struct {
			Inode  uint64 `json:"inode"`
			Owners []struct {
				PID     int    `json:"pid"`
				Started string `json:"started"`
			} `json:"owners"`
		} `json:"sockets"`
	}
	get(t, c, "/api/v1/who?port="+strconv.Itoa(h.port), &who)
	if len(who.Sockets) != 1 || len(who.Sockets[0].Owners) != 1 {
		t.Fatalf("who = %+v", who)
	}
	body := fmt.Sprintf(`{"port":%d,"pid":%d,"started":%q,"inode":%d}`, h.port, who.Sockets[0].Owners[0].PID, who.Sockets[0].Owners[0].Started, who.Sockets[0].Inode)

	evil, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	target := "http://127.0.0.1:" + strconv.Itoa(port)
	page := `<!doctype html><title>evil</title><script>
const T = ` + strconv.Quote(target) + `, B = ` + strconv.Quote(body) + `;
const out = {};
async function probe(name, p) { try { const r = await p; out[name] = "status " + r.status + " type " + r.type + " " + (r.type === "opaque" ? "" : await r.text()); } catch (e) { out[name] = "blocked: " + e; } }
(async () => {
  await probe("read", fetch(T + "/api/v1/ports", {credentials: "include"}));
  await probe("killJSON", fetch(T + "/api/v1/kill", {method: "POST", credentials: "include", headers: {"Content-Type": "application/json"}, body: B}));
  await probe("killText", fetch(T + "/api/v1/kill", {method: "POST", credentials: "include", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: B}));
  await probe("killForm", fetch(T + "/api/v1/kill", {method: "POST", credentials: "include", mode: "no-cors", body: new URLSearchParams({json: B})}));
  window.done = JSON.stringify(out);
})();
</script>`
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
	})}
	go srv.Serve(evil)
	t.Cleanup(func() { srv.Close() })

	run(t, ctx, "open the other origin", chromedp.Navigate("http://"+evil.Addr().String()+"/"))
	waitJS(t, ctx, "the other page's probes", `typeof window.done === "string"`)
	res := value(t, ctx, "results", chromedp.Evaluate[string](`window.done`))
	t.Logf("cross-origin probes: %s", res)
	if strings.Contains(res, `"proto"`) || strings.Contains(res, "owners") {
		t.Errorf("the other origin read the API: %s", res)
	}
	// The kill never happened: the child lives, and the API still shows it.
	select {
	case err := <-h.done:
		t.Fatalf("the child exited (%v): a cross-origin page killed it", err)
	case <-time.After(time.Second):
	}
	get(t, c, "/api/v1/who?port="+strconv.Itoa(h.port), &who)
	if len(who.Sockets) != 1 {
		t.Errorf("port %d no longer held after the cross-origin page", h.port)
	}
}

// startHolderArgs is startHolder with extra arguments on the command line.
func startHolderArgs(t *testing.T, addr string, args ...string) *holder {
	t.Helper()
	holderArgs = args
	defer func() { holderArgs = nil }()
	return startHolder(t, addr)
}

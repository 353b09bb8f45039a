//go:build linux

package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// groupOfJS is a JavaScript expression: the project of the group header
// above the row of the TCP listener on port, or null.
func groupOfJS(port int) string {
	return fmt.Sprintf(`(() => { let e = document.querySelector('%s');
		while (e && !e.classList.contains('group')) e = e.previousElementSibling;
		return e ? e.dataset.project : null; })()`, rowSel(port))
}

// headerJS is a JavaScript expression: what the header of project's group
// says, "NAME | SERVICES | COUNT", or "" when there is none.
func headerJS(project string) string {
	return fmt.Sprintf(`(() => { const h = document.querySelector('tr.group[data-project=%q]');
		return h ? [...h.querySelectorAll('span')].map((e) => e.textContent).join(' | ') : ''; })()`, project)
}

// TestDashboardGroupsByProject drives the page in headless Chromium: with
// "group by project" on, two services of one project (run routes of
// project shop) and a listener of another project (a child working in a
// folder whose package.json names it ledger) sit under their projects'
// headers with their service names; a new service shows in its group, a
// listener that closes turns red in its group and leaves it, and the
// choice outlives a reload.
func TestDashboardGroupsByProject(t *testing.T) {
	stateHome(t)
	ctx := browser(t)
	port := freePort(t)
	r := runDaemon(t, Options{Port: port, Interval: 200 * time.Millisecond})
	ready := r.waitReady(t)
	bg := context.Background()

	listen := func() (net.Listener, int) {
		t.Helper()
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln, ln.Addr().(*net.TCPAddr).Port
	}
	apiLn, apiPort := listen()
	_, webPort := listen()
	owner := runOwner(t)
	for name, p := range map[string]int{"api": apiPort, "web": webPort} {
		if _, _, err := AddRunRoute(bg, RunRoute{Name: name, Port: p, PID: owner, Project: "shop"}); err != nil {
			t.Fatal(err)
		}
	}
	ledger := startHolderIn(t, projectDir(t, "ledger"))

	run(t, ctx, "login", chromedp.Navigate(ready.LoginURL))
	waitJS(t, ctx, "the ledger row", fmt.Sprintf(`!!document.querySelector('%s')`, rowSel(ledger.port)))
	if n := value(t, ctx, "group headers before grouping", chromedp.Evaluate[int](`document.querySelectorAll('tr.group').length`)); n != 0 {
		t.Errorf("%d group headers before grouping; want none", n)
	}
	run(t, ctx, "group by project", chromedp.Click(chromedp.CSS(`#group`)))

	waitJS(t, ctx, "shop's header with its services and count", headerJS("shop")+` === 'shop | api, web | 2 listeners'`)
	waitJS(t, ctx, "ledger's header", headerJS("ledger")+` === 'ledger | 1 listener'`)
	for _, c := range []struct {
		port             int
		project, service string
	}{{apiPort, "shop", "api"}, {webPort, "shop", "web"}, {ledger.port, "ledger", ""}} {
		waitJS(t, ctx, fmt.Sprintf("port %d under %s", c.port, c.project), groupOfJS(c.port)+` === `+strconv.Quote(c.project))
		svc := value(t, ctx, "the service cell", chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector('%s td.svc').textContent`, rowSel(c.port))))
		visible := value(t, ctx, "the service column", chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector('%s td.svc').offsetWidth > 0`, rowSel(c.port))))
		if svc != c.service || !visible {
			t.Errorf("port %d: service cell %q (shown %v); want %q, shown", c.port, svc, visible, c.service)
		}
	}
	// Within a project, its services in order of name.
	if !value(t, ctx, "api before web", chromedp.Evaluate[bool](fmt.Sprintf(`!!(document.querySelector('%s').compareDocumentPosition(document.querySelector('%s')) & Node.DOCUMENT_POSITION_FOLLOWING)`, rowSel(apiPort), rowSel(webPort)))) {
		t.Error("web's row comes before api's")
	}

	// A new service of shop shows, green, in shop's group. The page may
	// see the listener before its route (then under this test's own
	// project) and move it; either way it is put in shop's group flashing.
	// The flash lasts 1.5s: an observer notes how each row came in.
	value(t, ctx, "watch rows come and go", chromedp.Evaluate[bool](`(() => {
		window.arrived = [];
		window.left = [];
		const groupOf = (n) => {
			let h = n.previousElementSibling;
			while (h && !h.classList.contains('group')) h = h.previousElementSibling;
			return h ? h.dataset.project : null;
		};
		new MutationObserver((muts) => {
			for (const m of muts) {
				if (m.type === 'attributes' && m.target.dataset.gone)
					window.left.push({ port: m.target.dataset.port, group: groupOf(m.target), red: m.target.classList.contains('gone') });
				for (const n of m.addedNodes) if (n.classList && n.classList.contains('sock'))
					window.arrived.push({ port: n.dataset.port, group: groupOf(n), flash: n.classList.contains('new') });
			}
		}).observe(document.querySelector('#ports tbody'), { childList: true, attributes: true, attributeFilter: ['data-gone'], subtree: true });
		return true; })()`))
	_, workerPort := listen()
	if _, _, err := AddRunRoute(bg, RunRoute{Name: "worker", Port: workerPort, PID: owner, Project: "shop"}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the worker row in shop", groupOfJS(workerPort)+` === 'shop'`)
	waitJS(t, ctx, "the worker row come in flashing in shop", fmt.Sprintf(`arrived.some((a) => a.port === '%d' && a.group === 'shop' && a.flash)`, workerPort))
	waitJS(t, ctx, "shop's header counting worker", headerJS("shop")+` === 'shop | api, web, worker | 3 listeners'`)

	shot := artifactPath("homeport-dashboard-grouped.png")
	if err := os.WriteFile(shot, value(t, ctx, "screenshot", chromedp.CaptureScreenshot()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// api closes: its row goes from shop's group, and the header with it.
	apiLn.Close()
	waitJS(t, ctx, "api's row to go", fmt.Sprintf(`!document.querySelector('%s')`, rowSel(apiPort)))
	waitJS(t, ctx, "api's row to have gone red in shop", fmt.Sprintf(`left.some((a) => a.port === '%d' && a.group === 'shop' && a.red)`, apiPort))
	waitJS(t, ctx, "shop's header without api", headerJS("shop")+` === 'shop | web, worker | 2 listeners'`)
	// The last row of a group takes its header along.
	if err := ledger.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "ledger's header to go", headerJS("ledger")+` === ''`)

	// The choice outlives a reload.
	run(t, ctx, "reload", chromedp.Navigate("http://127.0.0.1:"+strconv.Itoa(port)+"/"))
	waitJS(t, ctx, "grouped after a reload", `document.querySelector('#group').checked && `+groupOfJS(webPort)+` === 'shop'`)
	run(t, ctx, "ungroup", chromedp.Click(chromedp.CSS(`#group`)))
	waitJS(t, ctx, "no headers when ungrouped", `document.querySelectorAll('tr.group').length === 0 && document.querySelector('`+rowSel(webPort)+` td.svc').offsetWidth === 0`)
}

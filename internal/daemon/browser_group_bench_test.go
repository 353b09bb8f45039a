//go:build linux

package daemon

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pageFixtureJS builds, in the page, a snapshot of 10,000 TCP listeners of
// 100 processes: two in three in one of 100 projects, one in ten with a
// service; fakeSock(i) makes one more.
const pageFixtureJS = `(() => {
	const started = new Date(Date.now() - 3600e3).toISOString();
	window.fakeSock = (i) => ({
		proto: "tcp", state: "LISTEN", family: "ipv4", address: "127.0.0.1", port: 20000 + i,
		local: "127.0.0.1:" + (20000 + i), remote: "0.0.0.0:0", exposure: "loopback", class: "registered",
		inode: 1e6 + i, uid: 0, user: "root", owners: [{ pid: 5000 + i % 100, name: "srv" + i % 100, uid: 0, cmdline: ["srv", "--port", String(20000 + i)], started }],
		project: i % 3 ? "proj-" + (i % 100) : undefined, service: i % 10 === 0 ? "svc-" + i : undefined,
	});
	window.fakeSnapshot = { sockets: Array.from({ length: 10000 }, (_, i) => fakeSock(i)) };
	// frame resolves once the page has drawn what changed: style, layout
	// and paint of the next frame.
	window.frame = () => new Promise((res) => requestAnimationFrame(() => setTimeout(res, 0)));
	return true;
})()`

// BenchmarkPageUpdate measures the page's own work, in headless Chromium,
// on 10,000 rows, flat and grouped by project: rendering a snapshot, and
// one listener opening and one closing (the work of one change event),
// each until the next frame is drawn (style, layout and paint included:
// a table wider than the window once made every change repaint all rows).
// The stream and the daemon are left out: the page is fed the fixture
// directly. The new listener sorts amid the rows, flat (by its port) and
// grouped (by its project).
func BenchmarkPageUpdate(b *testing.B) {
	stateHome(b)
	ctx := browser(b)
	r := runDaemon(b, Options{Port: freePort(b), Interval: time.Hour})
	ready := r.waitReady(b)
	if err := chromedp.Do(ctx, chromedp.Navigate(ready.LoginURL)); err != nil {
		b.Fatal(err)
	}
	waitJS(b, ctx, "the page", `document.querySelectorAll('tr.sock').length > 0`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](pageFixtureJS)); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name    string
		grouped bool
	}{{"flat", false}, {"grouped", true}} {
		b.Run(mode.name, func(b *testing.B) {
			grouped := "false"
			if mode.grouped {
				grouped = "true"
			}
			var snaps, opens, closes []float64
			next := 0
			for b.Loop() {
				var t struct {
					Snapshot float64   `json:"snapshot"`
					Open     []float64 `json:"open"`
					Close    []float64 `json:"close"`
				}
				_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => {
					if (typeof setGrouped === "function") setGrouped(`+grouped+`);
					await frame();
					const t0 = performance.now();
					snapshot(fakeSnapshot);
					await frame();
					window.took = { snapshot: performance.now() - t0, open: [], close: [] };
					return true; })()`, chromedp.EvalAwaitPromise))
				if err != nil {
					b.Fatal(err)
				}
				for range 20 {
					next++
					js := `(async () => {
						const s = fakeSock(10000 + ` + strconv.Itoa(next) + `);
						s.project = "proj-7";
						s.port = 25000;
						s.local = "127.0.0.2:25000";
						let t0 = performance.now();
						change({ events: [{ event: "open", socket: s }] });
						await frame();
						took.open.push(performance.now() - t0);
						t0 = performance.now();
						change({ events: [{ event: "close", socket: s }] });
						await frame();
						took.close.push(performance.now() - t0);
						return true; })()`
					if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise)); err != nil {
						b.Fatal(err)
					}
				}
				v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(took)`))
				if err != nil {
					b.Fatal(err)
				}
				if err := json.Unmarshal([]byte(v), &t); err != nil {
					b.Fatal(err)
				}
				snaps = append(snaps, t.Snapshot)
				opens = append(opens, t.Open...)
				closes = append(closes, t.Close...)
			}
			rows, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('tr.sock').length`))
			headers, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('tr.group').length`))
			b.Logf("%d rows, %d group headers", rows, headers)
			b.ReportMetric(median(snaps), "ms-median/snapshot")
			b.ReportMetric(median(opens), "ms-median/open")
			b.ReportMetric(median(closes), "ms-median/close")
		})
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

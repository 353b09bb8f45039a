//go:build linux

package daemon

import (
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BenchmarkListenToRow measures the time from listen() to the listener's
// row in the page, in headless Chromium against a daemon polling at its
// default interval (1s). The page records when each row is inserted (a
// MutationObserver reading Date.now()), so the figure does not include the
// benchmark's own polling of the page. bench/dashboard.sh runs it beside a
// fixture of 10,000 listeners.
func BenchmarkListenToRow(b *testing.B) {
	stateHome(b)
	ctx := browser(b)
	port := freePort(b)
	r := runDaemon(b, Options{Port: port, Interval: -1})
	ready := r.waitReady(b)
	if err := chromedp.Do(ctx, chromedp.Navigate(ready.LoginURL)); err != nil {
		b.Fatal(err)
	}
	waitJS(b, ctx, "the page", `document.querySelectorAll('tr.sock[data-port="`+strconv.Itoa(port)+`"]').length > 0`)
	rows, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('tr.sock').length`))
	b.Logf("the page shows %d rows", rows)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		window.seen = {};
		new MutationObserver((muts) => {
			for (const m of muts) for (const n of m.addedNodes)
				if (n.dataset && n.dataset.port && !window.seen[n.dataset.port]) window.seen[n.dataset.port] = Date.now();
		}).observe(document.querySelector('#ports tbody'), {childList: true});
		return true; })()`)); err != nil {
		b.Fatal(err)
	}

	var lat []float64
	for b.Loop() {
		// A random pause first: listening right after the page saw the last
		// row go would always fall at the same point of the poll interval.
		time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		at := float64(nowMilli())
		key := strconv.Quote(strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		waitJS(b, ctx, "the new row", `!!window.seen[`+key+`]`)
		seen, _ := chromedp.Run(ctx, chromedp.Evaluate[float64](`window.seen[`+key+`]`))
		lat = append(lat, seen-at)
		ln.Close()
		waitJS(b, ctx, "the row to go", `!document.querySelector('tr.sock[data-port=`+key+`]')`)
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "ms-median/change")
	b.ReportMetric(lat[len(lat)-1], "ms-max/change")
}

func nowMilli() int64 { return time.Now().UnixMilli() }

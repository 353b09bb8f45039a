package router

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"testing"
)

// BenchmarkHotPath is the router's own work per request, without the
// sockets: reading Host, finding the route, checking hops and rewriting the
// outgoing request (what ReverseProxy does around it is net/http's).
func BenchmarkHotPath(b *testing.B) {
	tab := NewTable()
	tab.Add(Route{Name: "api", Port: 3000, Kind: KindPersistent})
	r := New(tab, Options{})
	in := httptest.NewRequest("GET", "http://api.localhost:62893/x", nil)
	in.Header.Set("Accept", "*/*")
	b.ReportAllocs()
	for b.Loop() {
		target, name := ParseHost(in.Host)
		if target != TargetRoute {
			b.Fatal(target)
		}
		rt, _ := tab.Lookup(name)
		if checkHops(in.Header.Values(HopHeader), rt) != nil {
			b.Fatal("loop")
		}
		be := r.backendFor(rt)
		out := *in
		out.Header = http.Header{}
		out.URL = new(*in.URL)
		be.rewrite(&httputil.ProxyRequest{In: in, Out: &out})
	}
}

// BenchmarkProxy is one request through the router to a real backend over
// loopback, client and servers in this process.
func BenchmarkProxy(b *testing.B) {
	tab := NewTable()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") }))
	defer backend.Close()
	tab.Add(Route{Name: "api", Port: backend.Listener.Addr().(*net.TCPAddr).Port, Kind: KindPersistent})
	r := New(tab, Options{Observer: NewMetrics()})
	defer r.Close()
	front := httptest.NewServer(r)
	defer front.Close()
	client := front.Client()
	req, _ := http.NewRequest("GET", front.URL+"/", nil)
	req.Host = "api.localhost:62893"
	b.ReportAllocs()
	for b.Loop() {
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatal(res.StatusCode)
		}
	}
}

// Command routerbench serves homeport's router package (internal/router) on
// a loopback port for bench/router.sh, with one route to the bench backend
// and the router's metrics recorded as the daemon records them. It stands in
// for `homeport up` until the daemon mounts the router; it is not part of
// homeport.
//
//	routerbench -addr 127.0.0.1:18091 -route bench=18090 [-cpuprofile cpu.prof]
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"homeport/internal/metrics"
	"homeport/internal/router"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18091", "address to listen on")
	route := flag.String("route", "bench=18090", "NAME=PORT of the route to the backend")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until SIGTERM")
	memprofile := flag.String("memprofile", "", "write an allocation profile here on SIGTERM")
	flag.Parse()

	name, portStr, _ := strings.Cut(*route, "=")
	port, err := strconv.Atoi(portStr)
	if err != nil {
		log.Fatalf("-route %q: want NAME=PORT", *route)
	}
	tab := router.NewTable()
	if _, err := tab.Add(router.Route{Name: name, Port: port, Kind: router.KindPersistent}); err != nil {
		log.Fatal(err)
	}
	m := router.NewMetrics()
	metrics.NewRegistry().Register(m)
	r := router.New(tab, router.Options{Observer: m})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	r.SetSelfPort(ln.Addr().(*net.TCPAddr).Port)

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-stop
		if *cpuprofile != "" {
			pprof.StopCPUProfile()
		}
		if *memprofile != "" {
			if f, err := os.Create(*memprofile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
		os.Exit(0)
	}()
	srv := &http.Server{Handler: r.Dispatch(nil), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// Command backend is the small HTTP server that bench/router.sh puts behind
// each reverse proxy: it answers every request with the same short body, as
// a local API does. It is not part of homeport.
//
//	backend -addr 127.0.0.1:18090 -size 128
package main

import (
	"bytes"
	"flag"
	"log"
	"net"
	"net/http"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "address to listen on")
	size := flag.Int("size", 128, "bytes in each response body")
	flag.Parse()
	body := bytes.Repeat([]byte("x"), *size)
	length := strconv.Itoa(len(body))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain"}
		w.Header()["Content-Length"] = []string{length}
		w.Write(body)
	})
	log.Fatal(http.Serve(ln, h))
}

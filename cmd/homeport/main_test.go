package main

import (
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"homeport/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"homeport": func() { os.Exit(cli.Main(os.Args[1:], cli.System())) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/*.txt against the real
// binary. Scripts get a command of their own:
//
//	listen NETWORK ADDRESS VAR   listen (in the test process) and set $VAR to the port
//	freeport VAR                 set $VAR to a TCP port nothing holds on 127.0.0.1 now
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"listen": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: listen NETWORK ADDRESS VAR")
				}
				var port int
				switch args[0] {
				case "udp", "udp4", "udp6":
					c, err := net.ListenPacket(args[0], args[1])
					ts.Check(err)
					ts.Defer(func() { c.Close() })
					port = c.LocalAddr().(*net.UDPAddr).Port
				default:
					ln, err := net.Listen(args[0], args[1])
					ts.Check(err)
					ts.Defer(func() { ln.Close() })
					port = ln.Addr().(*net.TCPAddr).Port
				}
				ts.Setenv(args[2], strconv.Itoa(port))
			},
			"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: freeport VAR")
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				port := ln.Addr().(*net.TCPAddr).Port
				ts.Check(ln.Close())
				ts.Setenv(args[0], strconv.Itoa(port))
			},
		},
	})
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
//	freeport VAR                 set $VAR to a TCP port nothing holds on 127.0.0.1 or ::1 now
//	exits N PROGRAM [ARGS...]    run PROGRAM, which must exit with status N
//	httpget [-host H] URL        GET URL (with Host H); stdout is the status, then the body
//	waitroute PORT NAME TEXT     wait until http://NAME.localhost:PORT/, asked of 127.0.0.1:PORT,
//	                             answers 200 with TEXT in its body
//	waitfile FILE TEXT           wait until FILE holds TEXT
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		// A script that fails before its `homeport down` (or a `run` that
		// started a daemon for itself) would leave a daemon behind: stop
		// every daemon whose state lies under the script's $WORK.
		Setup: func(env *testscript.Env) error {
			work := env.WorkDir
			env.Defer(func() { stopDaemons(work) })
			return nil
		},
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
			"waitroute": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: waitroute PORT NAME TEXT")
				}
				var last string
				ok := poll(func() bool {
					req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+args[0]+"/", nil)
					ts.Check(err)
					req.Host = args[1] + ".localhost:" + args[0]
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						last = err.Error()
						return false
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					last = resp.Status + ": " + string(b)
					return resp.StatusCode == http.StatusOK && strings.Contains(string(b), args[2])
				})
				if !ok {
					ts.Fatalf("%s.localhost did not answer %q within a minute; last: %s", args[1], args[2], last)
				}
			},
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: waitfile FILE TEXT")
				}
				if !poll(func() bool {
					b, _ := os.ReadFile(ts.MkAbs(args[0]))
					return strings.Contains(string(b), args[1])
				}) {
					ts.Fatalf("%s did not hold %q within a minute", args[0], args[1])
				}
			},
			"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 || neg {
					ts.Fatalf("usage: freeport VAR")
				}
				for try := 0; ; try++ {
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					ts.Check(err)
					port := ln.Addr().(*net.TCPAddr).Port
					ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port)))
					ln.Close()
					if err == nil {
						ln6.Close()
						ts.Setenv(args[0], strconv.Itoa(port))
						return
					}
					if try == 100 {
						ts.Fatalf("no port free on both loopbacks: %v", err)
					}
				}
			},
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 || neg {
					ts.Fatalf("usage: exits N PROGRAM [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("%s: %v", args[1], err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s exited with status %d; want %d", args[1], got, want)
				}
			},
			"httpget": func(ts *testscript.TestScript, neg bool, args []string) {
				host := ""
				if len(args) == 3 && args[0] == "-host" {
					host, args = args[1], args[2:]
				}
				if len(args) != 1 || neg {
					ts.Fatalf("usage: httpget [-host H] URL")
				}
				req, err := http.NewRequest("GET", args[0], nil)
				ts.Check(err)
				req.Host = host
				c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := c.Do(req)
				ts.Check(err)
				defer resp.Body.Close()
				fmt.Fprintln(ts.Stdout(), resp.StatusCode)
				_, err = io.Copy(ts.Stdout(), resp.Body)
				ts.Check(err)
			},
		},
	})
}

// stopDaemons sends SIGTERM to the daemons whose daemon.json lies under
// dir, and waits up to 10 s for each to go.
func stopDaemons(dir string) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "daemon.json" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		var st struct {
			PID int `json:"pid"`
		}
		if json.Unmarshal(b, &st) != nil || st.PID <= 1 || st.PID == os.Getpid() {
			return nil
		}
		// Only a daemon: a stale daemon.json's pid may be another
		// process's by now.
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.PID)); err != nil || !strings.Contains(string(cmd), "\x00up\x00") {
			return nil
		}
		p, err := os.FindProcess(st.PID)
		if err != nil || p.Signal(syscall.SIGTERM) != nil {
			return nil
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if p.Signal(syscall.Signal(0)) != nil {
				return nil
			}
		}
		_ = p.Kill()
		return nil
	})
}

// poll calls cond until it holds, for up to a minute (a loaded machine).
func poll(cond func() bool) bool {
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

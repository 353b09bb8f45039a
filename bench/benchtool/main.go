//go:build linux

// Command benchtool supports the benchmark scripts in bench/: it builds socket
// fixtures and turns hyperfine's JSON into the results
// tables. It is not part of homeport.
//
//	benchtool fixture -listeners 10000 -procs 100 -idle 1000
//	benchtool alt -runs 20 -warmup 3 -export-json out.json CMD...
//	benchtool report -out results.md -title T ROW...
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool fixture|hold|report ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "fixture":
		err = fixture(os.Args[2:])
	case "hold":
		err = hold(os.Args[2:])
	case "report":
		err = report(os.Args[2:])
	case "alt":
		err = alt(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// fixture starts procs processes holding listeners TCP listeners between
// them on 127.0.0.1, and idle processes that hold no socket, prints
// "ready PORT" (a port held by the middle process) and keeps them until its
// stdin closes.
func fixture(args []string) error {
	fs := flag.NewFlagSet("fixture", flag.ExitOnError)
	listeners := fs.Int("listeners", 10000, "TCP listeners in all")
	nprocs := fs.Int("procs", 100, "processes holding the listeners")
	idle := fs.Int("idle", 1000, "processes without sockets")
	fs.Parse(args)

	self, err := os.Executable()
	if err != nil {
		return err
	}
	var children []*exec.Cmd
	defer func() {
		for _, c := range children {
			c.Process.Kill()
			c.Wait()
		}
	}()
	port := ""
	per := *listeners / *nprocs
	for i := range *nprocs {
		c := exec.Command(self, "hold", strconv.Itoa(per))
		in, _ := c.StdinPipe()
		_ = in // closed when this process exits
		out, _ := c.StdoutPipe()
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			return err
		}
		children = append(children, c)
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			return fmt.Errorf("holder %d: %v", i, err)
		}
		if i == *nprocs/2 {
			port = strings.TrimSpace(strings.TrimPrefix(line, "ready "))
		}
	}
	for range *idle {
		c := exec.Command("sleep", "86400")
		if err := c.Start(); err != nil {
			return err
		}
		children = append(children, c)
	}
	fmt.Printf("ready %s\n", port)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// hold opens n listeners on 127.0.0.1 and prints "ready PORT" with the port
// of the middle one, then waits for stdin to close.
func hold(args []string) error {
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	var mid int
	for i := range n {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return err
		}
		if err := syscall.Listen(fd, 8); err != nil {
			return err
		}
		if i == n/2 {
			sa, _ := syscall.Getsockname(fd)
			mid = sa.(*syscall.SockaddrInet4).Port
		}
	}
	fmt.Printf("ready %d\n", mid)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// alt runs the commands in turn, one run of each per round, and writes
// their times in hyperfine's JSON form. Taking turns keeps a burst of load
// from another program from landing on one command's runs only, which is
// what makes ratios from a shared machine worth reading. Commands are split
// on spaces; an argument in single quotes may hold spaces.
func alt(args []string) error {
	fs := flag.NewFlagSet("alt", flag.ExitOnError)
	runs := fs.Int("runs", 20, "runs of each command")
	warmup := fs.Int("warmup", 3, "unmeasured rounds first")
	out := fs.String("export-json", "", "where to write the results")
	fs.Parse(args)
	cmds := fs.Args()
	argvs := make([][]string, len(cmds))
	for i, c := range cmds {
		argvs[i] = splitQuoted(c)
		p, err := exec.LookPath(argvs[i][0])
		if err != nil {
			return err
		}
		argvs[i][0] = p
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	times := make([][]float64, len(cmds))
	for round := range *warmup + *runs {
		for i, argv := range argvs {
			t0 := time.Now()
			pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
				Env:   os.Environ(),
				Files: []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd()},
			})
			if err != nil {
				return fmt.Errorf("%s: %w", cmds[i], err)
			}
			var ws syscall.WaitStatus
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
				return err
			}
			d := time.Since(t0).Seconds()
			if round >= *warmup {
				times[i] = append(times[i], d)
			}
		}
	}
	var res hyperfineResult
	for i, c := range cmds {
		t := slices.Clone(times[i])
		slices.Sort(t)
		med := t[len(t)/2]
		if len(t)%2 == 0 {
			med = (t[len(t)/2-1] + t[len(t)/2]) / 2
		}
		res.Results = append(res.Results, struct {
			Command string    `json:"command"`
			Median  float64   `json:"median"`
			Times   []float64 `json:"times"`
		}{c, med, times[i]})
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}

// splitQuoted splits s on spaces, keeping 'quoted words' whole.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, any := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, any = !quoted, true
		case r == ' ' && !quoted:
			if any {
				out = append(out, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}

type hyperfineResult struct {
	Results []struct {
		Command string    `json:"command"`
		Median  float64   `json:"median"`
		Times   []float64 `json:"times"`
	} `json:"results"`
}

// report reads ROW arguments "label|hyperfine.json|baseline index|target"
// and appends a markdown table to -out. Each JSON holds the compared
// commands; the ratio divides the first command's median by the baseline's.
func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	out := fs.String("out", "", "markdown file to append to")
	fs.Parse(args)
	f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintln(f, "| comparison | homeport median | other median | ratio | target | verdict |")
	fmt.Fprintln(f, "|---|---:|---:|---:|---:|---|")
	for _, row := range fs.Args() {
		parts := strings.Split(row, "|")
		if len(parts) != 3 {
			return fmt.Errorf("row %q: want label|file.json|target", row)
		}
		b, err := os.ReadFile(parts[1])
		if err != nil {
			return err
		}
		var hr hyperfineResult
		if err := json.Unmarshal(b, &hr); err != nil {
			return fmt.Errorf("%s: %v", parts[1], err)
		}
		if len(hr.Results) != 2 {
			return fmt.Errorf("%s: %d results, want 2", parts[1], len(hr.Results))
		}
		ours, other := hr.Results[0], hr.Results[1]
		ratio := ours.Median / other.Median
		verdict := "—"
		if t, err := strconv.ParseFloat(strings.TrimPrefix(parts[2], "≤"), 64); err == nil {
			verdict = "met"
			if ratio > t {
				verdict = "MISSED"
			}
		}
		fmt.Fprintf(f, "| %s | %s | %s | %.3f× | %s× | %s |\n", parts[0], ms(ours.Median), ms(other.Median), ratio, parts[2], verdict)
		fmt.Fprintf(f, "|   `%s` vs `%s` | | | | | |\n", ours.Command, other.Command)
	}
	fmt.Fprintln(f)
	return nil
}

func ms(s float64) string { return fmt.Sprintf("%.2f ms", s*1000) }

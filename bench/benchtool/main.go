//go:build linux

// Command benchtool supports the benchmark scripts in bench/: it builds socket
// fixtures and turns hyperfine's JSON into the results
// tables. It is not part of homeport.
//
//	benchtool fixture -listeners 10000 -procs 100 -idle 1000
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
	"strconv"
	"strings"
	"syscall"
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

// Command firstok measures how long a server takes from exec to its first
// 200 response: it starts the command given after "--", polls URL as fast
// as it can, and stops the server (its own child, by PID) once answered.
// It repeats -n times and prints the median in milliseconds.
//
//	go run ./bench/firstok -url http://127.0.0.1:18081/1k.txt -n 21 -- homeport serve www --port 18081
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	url := flag.String("url", "", "URL that answers 200 once the server is up")
	n := flag.Int("n", 21, "runs")
	flag.Parse()
	args := flag.Args()
	if *url == "" || len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: firstok -url URL [-n runs] -- command args...")
		os.Exit(2)
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var times []time.Duration
	for range *n {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.SysProcAttr = sysProcAttr()
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "firstok:", err)
			os.Exit(1)
		}
		var took time.Duration
		for deadline := t0.Add(10 * time.Second); ; {
			resp, err := client.Get(*url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					took = time.Since(t0)
					break
				}
			}
			if time.Now().After(deadline) {
				fmt.Fprintln(os.Stderr, "firstok: no 200 within 10s from", *url)
				cmd.Process.Kill()
				cmd.Wait()
				os.Exit(1)
			}
			time.Sleep(100 * time.Microsecond)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		times = append(times, took)
	}
	slices.Sort(times)
	fmt.Printf("%.2f\n", float64(times[len(times)/2].Microseconds())/1000)
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeport/internal/doctor"
	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

func doctorTestIO() (*IO, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &IO{Out: &out, Err: &errb}, &out, &errb
}

// runDoctorCmd runs `homeport args...` and returns stdout, stderr and the
// exit code, as Main would.
func runDoctorCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	io, out, errb := doctorTestIO()
	root := NewRoot(NewFactory(io))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		printError(io, err)
	}
	return out.String(), errb.String(), exitCode(err)
}

func TestDoctorFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		target  string
		bind    uint16
		timeout time.Duration
	}{
		{name: "port", args: []string{"3000"}, target: "3000", timeout: 3 * time.Second},
		{name: "url and timeout", args: []string{"http://localhost:3000/health", "--timeout", "500ms"}, target: "http://localhost:3000/health", timeout: 500 * time.Millisecond},
		{name: "bind", args: []string{"--bind", "80"}, bind: 80, timeout: 3 * time.Second},
		{name: "no target", args: nil, code: 2},
		{name: "two targets", args: []string{"3000", "3001"}, code: 2},
		{name: "bad target", args: []string{"x:y:z"}, code: 2},
		{name: "bad port", args: []string{"70000"}, code: 2},
		{name: "zero timeout", args: []string{"3000", "--timeout", "0s"}, code: 2},
		{name: "bad bind", args: []string{"--bind", "http"}, code: 2},
		{name: "bind and target", args: []string{"--bind", "80", "3000"}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, _, _ := doctorTestIO()
			var got *DoctorOptions
			cmd := NewCmdDoctor(&Factory{IO: io}, func(o *DoctorOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Err)
			cmd.SetErr(io.Err)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if code := exitCode(err); code != tt.code {
				t.Fatalf("doctor %q exit = %d (%v); want %d", tt.args, code, err, tt.code)
			}
			if tt.code != 0 {
				return
			}
			if tt.target != "" && got.Target.String() != tt.target {
				t.Errorf("doctor %q target = %q; want %q", tt.args, got.Target.String(), tt.target)
			}
			if got.Bind != tt.bind || got.Timeout != tt.timeout {
				t.Errorf("doctor %q bind, timeout = %d, %s; want %d, %s", tt.args, got.Bind, got.Timeout, tt.bind, tt.timeout)
			}
		})
	}
}

// The real command against a real listener on 127.0.0.1, then against the
// same port once closed.
func TestDoctorLive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	target := "127.0.0.1:" + port

	out, errOut, code := runDoctorCmd(t, "doctor", target)
	if code != 0 || !strings.Contains(out, "✓ "+target+" — connected to "+target) {
		t.Fatalf("doctor %s on a listener: exit %d\n%s%s", target, code, out, errOut)
	}
	if !strings.Contains(out, "listen ") || !strings.Contains(out, "(pid ") {
		t.Errorf("doctor %s: report does not name the listener's process:\n%s", target, out)
	}

	ln.Close()
	out, _, code = runDoctorCmd(t, "doctor", target)
	if code != 1 || !strings.Contains(out, "✗ "+target+" — nothing listens on "+target) || !strings.Contains(out, "fix: ") {
		t.Errorf("doctor %s on a closed port: exit %d\n%s", target, code, out)
	}

	out, _, code = runDoctorCmd(t, "doctor", target, "--json")
	var rep doctor.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	if code != 1 || rep.OK || len(rep.Findings) == 0 || rep.Findings[0].ID != doctor.IDNothingListens || rep.Findings[0].Fix == "" {
		t.Errorf("doctor --json on a closed port: exit %d, report %+v", code, rep)
	}
	if !strings.Contains(out, `"severity": "high"`) || !strings.Contains(out, `"id": "nothing-listens"`) {
		t.Errorf("doctor --json: severity and id are not readable strings:\n%s", out)
	}
}

func TestAuditCommand(t *testing.T) {
	env := &doctor.Env{Inventory: func(ctx context.Context, port uint16) ([]sockets.Socket, error) {
		return []sockets.Socket{{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("0.0.0.0:6379"), UID: 0,
			Owners: []procs.Process{{PID: 811, Name: "redis-server"}}}}, nil
	}}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"default fails on high", []string{"--no-probe"}, 1, []string{"0.0.0.0:6379", "redis-server (pid 811)", "Redis", "✗ high:", "fix: bind it to 127.0.0.1"}},
		{"fail-on critical passes", []string{"--no-probe", "--fail-on", "critical"}, 0, []string{"! high:"}},
		{"json", []string{"--no-probe", "--json"}, 1, []string{`"id": "dangerous-service"`, `"severity": "high"`, `"process": "redis-server (pid 811)"`}},
		{"bad fail-on", []string{"--fail-on", "severe"}, 2, nil},
		{"arguments", []string{"3000"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, out, _ := doctorTestIO()
			cmd := NewCmdAudit(&Factory{IO: io}, func(o *AuditOptions) error {
				o.Env = env
				return auditRun(context.Background(), o)
			})
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Err)
			cmd.SetErr(io.Err)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if code := exitCode(err); code != tt.code {
				t.Fatalf("audit %q exit = %d (%v); want %d\n%s", tt.args, code, err, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("audit %q output lacks %q:\n%s", tt.args, w, out)
				}
			}
		})
	}
}

func TestAuditProgressBar(t *testing.T) {
	io, _, errb := doctorTestIO()
	io.ErrTTY = true
	bar := newProgressBar(io, "probing")
	bar.update(1, 4)
	bar.update(4, 4)
	bar.done()
	got := errb.String()
	if !strings.Contains(got, "probing [######                  ] 1/4") || !strings.Contains(got, "4/4") || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("progress bar wrote %q", got)
	}
	io.ErrTTY = false
	if newProgressBar(io, "x") != nil {
		t.Errorf("progress bar drawn into a pipe")
	}
}

// An inventory homeport cannot read is its own failure, not a finding: exit
// 2, for doctor and audit alike.
func TestDoctorAuditInternalErrorExit2(t *testing.T) {
	broken := func(ctx context.Context, port uint16) ([]sockets.Socket, error) {
		return nil, errors.New("netlink: operation not permitted")
	}
	io, _, _ := doctorTestIO()
	env := doctor.System()
	env.Inventory = broken
	tg, _ := ports.ParseTarget("127.0.0.1:1")
	err := doctorRun(context.Background(), &DoctorOptions{IO: io, Env: env, Target: tg, Timeout: time.Second})
	if code := exitCode(err); code != exitInternal {
		t.Errorf("doctor with a broken inventory: exit %d (%v); want %d", code, err, exitInternal)
	}
	err = auditRun(context.Background(), &AuditOptions{IO: io, Env: &doctor.Env{Inventory: broken}, Timeout: time.Second, FailOn: doctor.High})
	if code := exitCode(err); code != exitInternal {
		t.Errorf("audit with a broken inventory: exit %d (%v); want %d", code, err, exitInternal)
	}
}

// The audit's text output: the exposure in the words of `homeport ports`
// (an address, never the raw "address"; v4/v6/v4+v6), low notes counted only
// when printed, and what was probed.
func TestAuditText(t *testing.T) {
	socks := []sockets.Socket{
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("198.18.0.2:8080"), Owners: []procs.Process{{PID: 77, Name: "python3"}}},
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("[::]:3000"), Owners: []procs.Process{{PID: 78, Name: "node"}}},
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("[::]:8444"), V6Only: true, Owners: []procs.Process{{PID: 79, Name: "socat"}}},
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("0.0.0.0:6379"), Owners: []procs.Process{{PID: 811, Name: "redis-server"}}},
	}
	env := &doctor.Env{Inventory: func(ctx context.Context, port uint16) ([]sockets.Socket, error) { return socks, nil }}
	io, out, _ := doctorTestIO()
	err := auditRun(context.Background(), &AuditOptions{IO: io, Env: env, NoProbe: true, Timeout: time.Second, FailOn: doctor.High})
	if code := exitCode(err); code != 1 {
		t.Fatalf("audit exit %d (%v); want 1 for Redis", code, err)
	}
	got := out.String()
	for _, want := range []string{"198.18.0.2:8080\t198.18.0.2\t", "[::]:3000\tall interfaces (v4+v6)", "[::]:8444\tall interfaces (v6)",
		"0.0.0.0:6379\tall interfaces (v4)", "4 exposed;", "findings: 1 high\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\taddress\t") || strings.Contains(got, "1 low") || strings.Contains(got, "probed") {
		t.Errorf("audit output shows the raw exposure or counts low notes it does not print:\n%s", got)
	}
}

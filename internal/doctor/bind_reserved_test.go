package doctor

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"homeport/internal/ports"
)

// failingReserved is a provider whose netsh fails.
type failingReserved struct{}

func (failingReserved) Excluded(context.Context, string) ([]ports.Exclusion, error) {
	return nil, errors.New("netsh: exit status 1")
}

func (failingReserved) Dynamic(context.Context, string) (ports.Range, error) {
	return ports.Range{}, errors.New("netsh: exit status 1")
}

// TestDiagnoseBindReserved feeds DiagnoseBind Windows' reserved ranges
// through Env.Reserved. Without sysctl (as on Windows) the dynamic range
// comes from the provider too.
func TestDiagnoseBindReserved(t *testing.T) {
	linux := map[string]string{"net/ipv4/ip_unprivileged_port_start": "1024", "net/ipv4/ip_local_port_range": "32768\t60999"}
	hyperV := ports.FixedReserved{Exclusions: map[string][]ports.Exclusion{"tcp": {
		{Range: ports.Range{Lo: 5357, Hi: 5357}},
		{Range: ports.Range{Lo: 50000, Hi: 50059}},
		{Range: ports.Range{Lo: 8000, Hi: 8009}, Administered: true},
	}}, DynamicRange: ports.Range{Lo: 49152, Hi: 65535}}
	tests := []struct {
		name     string
		port     uint16
		fe       fakeEnv
		reserved ports.ReservedRanges
		wantIDs  []string // in order
		fix      string
		names    []string
	}{
		{name: "hyper-v range", port: 50010, fe: fakeEnv{listenErr: syscall.EACCES}, reserved: hyperV,
			wantIDs: []string{IDExcludedPort, IDEphemeralPort}, fix: "net stop winnat",
			names: []string{"port 50010", "50000-50059", "Hyper-V", "access forbidden", "excludedportrange", "homeport free"}},
		{name: "administered range", port: 8005, fe: fakeEnv{listenErr: syscall.EACCES}, reserved: hyperV,
			wantIDs: []string{IDExcludedPort},
			fix:     "netsh int ipv4 delete excludedportrange protocol=tcp startport=8000 numberofports=10",
			names:   []string{"8000-8009", "reserved by an administrator"}},
		{name: "excluded, bind worked anyway", port: 5357, fe: fakeEnv{}, reserved: hyperV,
			wantIDs: []string{IDExcludedPort}, fix: "homeport free", names: []string{"5357"}},
		{name: "windows dynamic range", port: 62893, fe: fakeEnv{}, reserved: hyperV,
			wantIDs: []string{IDEphemeralPort}, fix: "below 49152",
			names: []string{"port 62893 is in the dynamic port range 49152-65535", "outgoing connection"}},
		{name: "moved dynamic range", port: 62893, fe: fakeEnv{},
			reserved: ports.FixedReserved{DynamicRange: ports.Range{Lo: 10000, Hi: 19999}}},
		{name: "linux range wins", port: 62893, fe: fakeEnv{sysctl: linux}, reserved: hyperV},
		{name: "linux ephemeral once", port: 50000 - 1, fe: fakeEnv{sysctl: linux}, reserved: hyperV,
			wantIDs: []string{IDEphemeralPort}, fix: "ip_local_reserved_ports=49999"},
		{name: "outside every range", port: 8080, fe: fakeEnv{}, reserved: hyperV},
		{name: "netsh fails", port: 50010, fe: fakeEnv{}, reserved: failingReserved{}},
		{name: "no provider", port: 50010, fe: fakeEnv{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.fe.env()
			env.Reserved = tt.reserved
			rep := DiagnoseBind(context.Background(), env, tt.port, "tcp")
			if got := ids(rep); strings.Join(got, ",") != strings.Join(tt.wantIDs, ",") {
				t.Fatalf("DiagnoseBind(%d) findings = %v; want %v", tt.port, got, tt.wantIDs)
			}
			if len(tt.wantIDs) == 0 {
				return
			}
			if rep.OK || rep.Verdict != rep.Findings[0].Title {
				t.Errorf("DiagnoseBind(%d): OK %v, verdict %q; want a failed report led by %q", tt.port, rep.OK, rep.Verdict, rep.Findings[0].Title)
			}
			checkNames(t, &rep.Findings[0], tt.fix, tt.names...)
		})
	}
}

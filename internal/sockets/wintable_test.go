package sockets

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// unhex decodes a hex dump written with spaces and line breaks.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad fixture: %v", err)
	}
	return b
}

// The fixtures are written byte by byte the way iphlpapi lays the tables out
// (see wintable.go), so that a swapped byte order fails them: port 3000 is
// 0x0bb8 and is stored "0b b8", address 127.0.0.1 is stored "7f 00 00 01",
// the row count and the PIDs are little-endian.
const (
	fixTCP4 = `03 00 00 00
		02 00 00 00  7f 00 00 01  0b b8 00 00  00 00 00 00  00 00 00 00  92 10 00 00
		05 00 00 00  c0 a8 01 14  cc 78 ab cd  8c 52 70 03  01 bb 00 00  07 00 00 00
		0b 00 00 00  00 00 00 00  f5 ad 00 00  7f 00 00 01  1f 90 00 00  00 00 00 00`
	fixTCP6 = `02 00 00 00
		00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01  00 00 00 00  1f 90 00 00
		00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  00 00 00 00  00 00 00 00
		02 00 00 00  64 00 00 00
		fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01  0c 00 00 00  00 16 00 00
		fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 02  0c 00 00 00  c3 50 00 00
		05 00 00 00  d2 04 00 00`
	fixUDP4 = `02 00 00 00
		00 00 00 00  14 e9 00 00  20 03 00 00
		7f 00 00 01  00 35 00 00  04 00 00 00`
	fixUDP6 = `01 00 00 00
		00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  00 00 00 00  14 e9 00 00  20 03 00 00`
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseWinTable(t *testing.T) {
	tcp4, tcp6 := winTable{TCP, false}, winTable{TCP, true}
	udp4, udp6 := winTable{UDP, false}, winTable{UDP, true}
	row := func(p Proto, st State, local, remote string, pid uint32) winRow {
		return winRow{Socket: Socket{Proto: p, State: st, Local: ap(local), Remote: ap(remote), UID: -1}, PID: pid}
	}
	tests := []struct {
		name   string
		table  winTable
		buf    string
		filter *Filter
		want   []winRow
		err    bool
	}{
		{
			name: "tcp4 all states", table: tcp4, buf: fixTCP4, filter: &Filter{All: true},
			want: []winRow{
				row(TCP, Listen, "127.0.0.1:3000", "0.0.0.0:0", 4242),
				// The port's upper 16 bits (ab cd) are garbage and ignored.
				row(TCP, Established, "192.168.1.20:52344", "140.82.112.3:443", 7),
				row(TCP, TimeWait, "0.0.0.0:62893", "127.0.0.1:8080", 0),
			},
		},
		{
			name: "tcp4 listeners only", table: tcp4, buf: fixTCP4, filter: &Filter{},
			want: []winRow{row(TCP, Listen, "127.0.0.1:3000", "0.0.0.0:0", 4242)},
		},
		{
			name: "tcp4 one port", table: tcp4, buf: fixTCP4, filter: &Filter{All: true, Port: 62893},
			want: []winRow{row(TCP, TimeWait, "0.0.0.0:62893", "127.0.0.1:8080", 0)},
		},
		{
			name: "tcp6 with scope ids", table: tcp6, buf: fixTCP6, filter: &Filter{All: true},
			want: []winRow{
				row(TCP, Listen, "[::1]:8080", "[::]:0", 100),
				row(TCP, Established, "[fe80::1%12]:22", "[fe80::2%12]:50000", 1234),
			},
		},
		{
			name: "udp4 is unconnected", table: udp4, buf: fixUDP4, filter: &Filter{},
			want: []winRow{
				row(UDP, Close, "0.0.0.0:5353", "0.0.0.0:0", 800),
				row(UDP, Close, "127.0.0.1:53", "0.0.0.0:0", 4),
			},
		},
		{
			name: "udp6", table: udp6, buf: fixUDP6, filter: &Filter{},
			want: []winRow{row(UDP, Close, "[::]:5353", "[::]:0", 800)},
		},
		{
			name: "buffer longer than the table", table: udp6, buf: fixUDP6 + " ff ff ff ff 00 11", filter: &Filter{},
			want: []winRow{row(UDP, Close, "[::]:5353", "[::]:0", 800)},
		},
		{name: "empty table", table: tcp4, buf: "00 00 00 00", filter: &Filter{}},
		{name: "no row count", table: tcp4, buf: "00 00", err: true},
		{name: "empty buffer", table: udp6, buf: "", err: true},
		{name: "count beyond buffer", table: udp4, buf: "02 00 00 00  00 00 00 00  14 e9 00 00  20 03 00 00", err: true},
		{name: "huge count", table: tcp6, buf: "ff ff ff ff 00 00 00 00", err: true},
		{
			name: "unknown tcp state", table: tcp4, err: true,
			buf: "01 00 00 00  0d 00 00 00  7f 00 00 01  0b b8 00 00  00 00 00 00  00 00 00 00  92 10 00 00",
		},
		{
			name: "state zero", table: tcp4, err: true,
			buf: "01 00 00 00  00 00 00 00  7f 00 00 01  0b b8 00 00  00 00 00 00  00 00 00 00  92 10 00 00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWinTable(nil, unhex(t, tt.buf), tt.table, tt.filter)
			if tt.err {
				if !errors.Is(err, errWinTable) {
					t.Fatalf("parseWinTable(%q) error = %v; want one wrapping errWinTable", tt.buf, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseWinTable(%q) = %v", tt.buf, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("parseWinTable(%q) mismatch (-want +got):\n%s", tt.buf, diff)
			}
		})
	}
}

func TestMapWinTCPState(t *testing.T) {
	// Every MIB_TCP_STATE value, by its documented number.
	want := map[uint32]State{
		1: Close, 2: Listen, 3: SynSent, 4: SynRecv, 5: Established, 6: FinWait1,
		7: FinWait2, 8: CloseWait, 9: Closing, 10: LastAck, 11: TimeWait, 12: Close,
	}
	for in := uint32(0); in < 20; in++ {
		got, err := mapWinTCPState(in)
		w, ok := want[in]
		if ok && (err != nil || got != w) {
			t.Errorf("mapWinTCPState(%d) = %v, %v; want %v", in, got, err, w)
		}
		if !ok && err == nil {
			t.Errorf("mapWinTCPState(%d) = %v; want an error", in, got)
		}
	}
}

// encodeWinTable lays rows out the way iphlpapi does; the fuzz target and the
// benchmark build their tables with it, and TestEncodeWinTable checks it
// against the hand-written fixtures.
func encodeWinTable(t winTable, rows []winRow) []byte {
	size := t.rowSize()
	buf := make([]byte, 4+len(rows)*size)
	le := binary.LittleEndian
	le.PutUint32(buf, uint32(len(rows)))
	winState := func(s State) uint32 {
		for i, st := range winTCPState {
			if st == s && i != 0 {
				return uint32(i)
			}
		}
		return 0
	}
	scope := func(a netip.Addr) uint32 {
		n := uint32(0)
		for _, c := range a.Zone() {
			n = n*10 + uint32(c-'0')
		}
		return n
	}
	for i, r := range rows {
		b := buf[4+i*size:]
		l, rem := r.Local, r.Remote
		switch {
		case t.proto == TCP && !t.v6:
			le.PutUint32(b[0:], winState(r.State))
			copy(b[4:], l.Addr().AsSlice())
			binary.BigEndian.PutUint16(b[8:], l.Port())
			copy(b[12:], rem.Addr().AsSlice())
			binary.BigEndian.PutUint16(b[16:], rem.Port())
			le.PutUint32(b[20:], r.PID)
		case t.proto == TCP:
			a16 := l.Addr().As16()
			copy(b[0:], a16[:])
			le.PutUint32(b[16:], scope(l.Addr()))
			binary.BigEndian.PutUint16(b[20:], l.Port())
			r16 := rem.Addr().As16()
			copy(b[24:], r16[:])
			le.PutUint32(b[40:], scope(rem.Addr()))
			binary.BigEndian.PutUint16(b[44:], rem.Port())
			le.PutUint32(b[48:], winState(r.State))
			le.PutUint32(b[52:], r.PID)
		case !t.v6:
			copy(b[0:], l.Addr().AsSlice())
			binary.BigEndian.PutUint16(b[4:], l.Port())
			le.PutUint32(b[8:], r.PID)
		default:
			a16 := l.Addr().As16()
			copy(b[0:], a16[:])
			le.PutUint32(b[16:], scope(l.Addr()))
			binary.BigEndian.PutUint16(b[20:], l.Port())
			le.PutUint32(b[24:], r.PID)
		}
	}
	return buf
}

func TestEncodeWinTable(t *testing.T) {
	for _, tt := range []struct {
		name  string
		table winTable
		buf   string
	}{
		{"tcp6", winTable{TCP, true}, fixTCP6},
		{"udp4", winTable{UDP, false}, fixUDP4},
		{"udp6", winTable{UDP, true}, fixUDP6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.buf)
			rows, err := parseWinTable(nil, in, tt.table, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := encodeWinTable(tt.table, rows); string(got) != string(in) {
				t.Errorf("encodeWinTable(parseWinTable(%q)) = % x", tt.buf, got)
			}
		})
	}
}

func FuzzParseWinTable(f *testing.F) {
	for _, s := range []string{fixTCP4, fixTCP6, fixUDP4, fixUDP6, "", "00 00 00 00", "ff ff ff ff"} {
		b := unhex(f, s)
		for k := range 4 {
			f.Add(uint8(k), b)
		}
	}
	tables := [4]winTable{{TCP, false}, {TCP, true}, {UDP, false}, {UDP, true}}
	f.Fuzz(func(t *testing.T, k uint8, buf []byte) {
		tab := tables[k%4]
		rows, err := parseWinTable(nil, buf, tab, nil)
		if err != nil {
			if !errors.Is(err, errWinTable) {
				t.Fatalf("parseWinTable(% x) error %v does not wrap errWinTable", buf, err)
			}
			return
		}
		if n := binary.LittleEndian.Uint32(buf); int(n) != len(rows) {
			t.Fatalf("parseWinTable(% x) = %d rows; the table says %d", buf, len(rows), n)
		}
		for _, r := range rows {
			if r.Proto != tab.proto || r.Local.Addr().Is6() != tab.v6 || !r.Local.IsValid() {
				t.Fatalf("parseWinTable(% x): row %+v does not belong to a %s table", buf, r, tab)
			}
		}
		// Parsing what the encoder makes of the rows gives the same rows.
		again, err := parseWinTable(nil, encodeWinTable(tab, rows), tab, nil)
		if err != nil || len(again) != len(rows) {
			t.Fatalf("re-parsing %d rows: %d rows, %v", len(rows), len(again), err)
		}
		for i := range rows {
			a, b := rows[i], again[i]
			same := a.PID == b.PID && a.Local == b.Local && a.Remote == b.Remote && a.State == b.State
			// CLOSED and DELETE_TCB both read as Close, and the encoder
			// writes CLOSED back.
			if !same {
				t.Fatalf("row %d: %+v re-parsed as %+v", i, rows[i], again[i])
			}
		}
	})
}

func benchTable(n int) []byte {
	rows := make([]winRow, n)
	for i := range rows {
		st := Established
		if i%10 == 0 {
			st = Listen
		}
		rows[i] = winRow{
			Socket: Socket{Proto: TCP, State: st,
				Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(1024+i)),
				Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(50000+i%10000))},
			PID: uint32(i),
		}
	}
	return encodeWinTable(winTable{TCP, false}, rows)
}

func BenchmarkParseWinTable(b *testing.B) {
	buf := benchTable(10000)
	f := &Filter{}
	var rows []winRow
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		var err error
		rows, err = parseWinTable(rows[:0], buf, winTable{TCP, false}, f)
		if err != nil || len(rows) != 1000 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
}

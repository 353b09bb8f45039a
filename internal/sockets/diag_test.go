package sockets

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// diagMsg builds one netlink message carrying an inet_diag_msg, as the kernel
// sends it.
func diagMsg(s Socket, v6only *bool) []byte {
	ne := binary.NativeEndian
	body := make([]byte, diagMsgLen)
	body[0] = afINET
	if s.Local.Addr().Is6() {
		body[0] = afINET6
	}
	body[1] = byte(s.State)
	binary.BigEndian.PutUint16(body[4:], s.Local.Port())
	binary.BigEndian.PutUint16(body[6:], s.Remote.Port())
	if body[0] == afINET {
		a, r := s.Local.Addr().As4(), s.Remote.Addr().As4()
		copy(body[8:], a[:])
		copy(body[24:], r[:])
	} else {
		a, r := s.Local.Addr().As16(), s.Remote.Addr().As16()
		copy(body[8:], a[:])
		copy(body[24:], r[:])
	}
	ne.PutUint32(body[56:], s.RecvQ)
	ne.PutUint32(body[60:], s.SendQ)
	ne.PutUint32(body[64:], uint32(s.UID))
	ne.PutUint32(body[68:], uint32(s.Inode))
	// An attribute the parser must skip, then SKV6ONLY.
	body = append(body, 5, 0, 8, 0, 1, 0, 0, 0) // INET_DIAG_SHUTDOWN, padded
	if v6only != nil {
		v := byte(0)
		if *v6only {
			v = 1
		}
		body = append(body, 5, 0, attrSKV6Only, 0, v, 0, 0, 0)
	}
	msg := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(body))
	ne.PutUint32(msg[0:], uint32(nlmsgHdrLen+len(body)))
	ne.PutUint16(msg[4:], sockDiagByFam)
	return append(msg, body...)
}

func doneMsg() []byte {
	m := make([]byte, 20)
	binary.NativeEndian.PutUint32(m[0:], 20)
	binary.NativeEndian.PutUint16(m[4:], nlmsgDone)
	return m
}

func errorMsg(errno int32) []byte {
	m := make([]byte, 36)
	binary.NativeEndian.PutUint32(m[0:], 36)
	binary.NativeEndian.PutUint16(m[4:], nlmsgError)
	binary.NativeEndian.PutUint32(m[16:], uint32(-errno))
	return m
}

func TestParseDiagMessages(t *testing.T) {
	yes, no := true, false
	want := []Socket{
		{Proto: TCP, State: Listen, Local: mustAP("127.0.0.1:3000"), Remote: mustAP("0.0.0.0:0"), UID: 1000, Inode: 4242, SendQ: 128},
		{Proto: TCP, State: Listen, Local: mustAP("[::]:62893"), Remote: mustAP("[::]:0"), UID: 0, Inode: 7, V6Only: true},
		{Proto: TCP, State: Listen, Local: mustAP("[::]:8080"), Remote: mustAP("[::]:0"), UID: 0, Inode: 8},
		{Proto: TCP, State: Established, Local: mustAP("[::1]:3000"), Remote: mustAP("[::1]:51000"), UID: 1000, Inode: 9, RecvQ: 3},
	}
	var b []byte
	b = append(b, diagMsg(want[0], nil)...)
	b = append(b, diagMsg(want[1], &yes)...)
	b = append(b, diagMsg(want[2], &no)...)
	b = append(b, diagMsg(want[3], nil)...)
	got, err := parseDiagMessages(b, TCP, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("parseDiagMessages (-want +got):\n%s", diff)
	}
	if !got[2].DualStack() || got[1].DualStack() {
		t.Errorf("DualStack: [::]:8080 = %v, v6only [::]:62893 = %v; want true, false", got[2].DualStack(), got[1].DualStack())
	}

	_, err = parseDiagMessages(append(diagMsg(want[0], nil), doneMsg()...), TCP, nil)
	if err != errDumpDone {
		t.Errorf("after NLMSG_DONE: err = %v; want errDumpDone", err)
	}
	_, err = parseDiagMessages(errorMsg(int32(syscall.EPERM)), TCP, nil)
	if err != syscall.EPERM {
		t.Errorf("NLMSG_ERROR EPERM: err = %v; want EPERM", err)
	}
	_, err = parseDiagMessages(diagMsg(want[0], nil)[:40], TCP, nil)
	if err == nil || !strings.Contains(err.Error(), "length") {
		t.Errorf("truncated message: err = %v; want a length error", err)
	}
}

func TestDiagRequestPortFilter(t *testing.T) {
	req := diagRequest(afINET6, ipprotoTCP, statesListening, 62893, 1)
	ne := binary.NativeEndian
	if int(ne.Uint32(req)) != len(req) || len(req) != nlmsgHdrLen+diagReqLen+4+16 {
		t.Fatalf("request length %d (header says %d)", len(req), ne.Uint32(req))
	}
	bc := req[nlmsgHdrLen+diagReqLen+4:]
	if bc[0] != bcSourceGE || ne.Uint16(bc[6:]) != 62893 || bc[8] != bcSourceLE || ne.Uint16(bc[14:]) != 62893 {
		t.Errorf("bytecode %v does not compare the source port with 62893", bc)
	}
	if r := diagRequest(afINET, ipprotoUDP, statesAll, 0, 2); len(r) != nlmsgHdrLen+diagReqLen {
		t.Errorf("request without a port has %d bytes; want no bytecode", len(r))
	}
}

func BenchmarkParseDiagMessages(b *testing.B) {
	var data []byte
	for i := range 10000 {
		s := Socket{State: Listen, Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(1024+i)),
			Remote: mustAP("0.0.0.0:0"), Inode: uint64(i)}
		data = append(data, diagMsg(s, nil)...)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var out []Socket
	for b.Loop() {
		var err error
		out, err = parseDiagMessages(data, TCP, out[:0])
		if err != nil || len(out) != 10000 {
			b.Fatal(err, len(out))
		}
	}
}

func FuzzParseDiagMessages(f *testing.F) {
	v := true
	f.Add(diagMsg(Socket{State: Listen, Local: mustAP("127.0.0.1:3000"), Remote: mustAP("0.0.0.0:0")}, nil))
	f.Add(diagMsg(Socket{State: Listen, Local: mustAP("[::]:3000"), Remote: mustAP("[::]:0")}, &v))
	f.Add(doneMsg())
	f.Add(errorMsg(1))
	f.Fuzz(func(t *testing.T, data []byte) {
		socks, _ := parseDiagMessages(data, TCP, nil)
		for _, s := range socks {
			if !s.Local.IsValid() {
				t.Errorf("invalid local address in %+v", s)
			}
		}
	})
}

package doctor

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestIPTablesFixture(t *testing.T) {
	f, err := os.Open("testdata/iptables-save.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseIPTables(f, "ip")
	if err != nil {
		t.Fatalf("ParseIPTables: %v", err)
	}
	ext := netip.MustParseAddr("198.18.0.2")
	src := netip.MustParseAddr("198.18.0.1")
	tests := []struct {
		name    string
		p       Packet
		verdict string
		rule    string
		unsure  bool
	}{
		{"loopback interface accepted", Packet{Proto: "tcp", Src: src, Dst: ext, DPort: 3000, Iif: "lo"}, "accept", "", false},
		{"dport drop", Packet{Proto: "tcp", Src: src, Dst: ext, DPort: 3000}, "drop", "table ip filter chain INPUT handle 3", false},
		{"multiport reject from 10/8", Packet{Proto: "tcp", Src: netip.MustParseAddr("10.9.9.9"), Dst: ext, DPort: 8080}, "reject", "table ip filter chain INPUT handle 4", false},
		{"multiport skips other sources", Packet{Proto: "tcp", Src: src, Dst: ext, DPort: 22}, "accept", "", false},
		{"user chain accept", Packet{Proto: "udp", Src: src, Dst: ext, DPort: 53}, "accept", "", false},
		{"return then policy drop; sport rule is only a maybe", Packet{Proto: "tcp", Src: src, Dst: ext, DPort: 5000}, "drop", "policy of table ip filter chain INPUT", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := rs.Evaluate(tt.p)
			name := ""
			if d.Verdict != "accept" && d.Rule != nil {
				name = d.Rule.Name()
			}
			if d.Verdict != tt.verdict || name != tt.rule || d.Uncertain != tt.unsure {
				t.Errorf("Evaluate(%+v) = %s by %q (uncertain %v); want %s by %q (uncertain %v)", tt.p, d.Verdict, name, d.Uncertain, tt.verdict, tt.rule, tt.unsure)
			}
		})
	}
}

func TestParseIPTables(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
		rules   int
	}{
		{name: "empty", in: ""},
		{name: "rule outside table", in: "-A INPUT -j DROP\n", wantErr: true},
		{name: "chain outside table", in: ":INPUT ACCEPT [0:0]\n", wantErr: true},
		{name: "undeclared chain", in: "*filter\n-A NOPE -j DROP\nCOMMIT\n", wantErr: true},
		{name: "garbage line", in: "*filter\nhello\n", wantErr: true},
		{name: "quoted comment", in: "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"a \\\"b\\\" c\" -p tcp --dport 1 -j DROP\nCOMMIT\n", rules: 1},
		{name: "table without name", in: "*\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseIPTables(strings.NewReader(tt.in), "ip")
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseIPTables(%q) error = %v; want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			n := 0
			for _, c := range rs.Chains {
				n += len(c.Rules)
			}
			if n != tt.rules {
				t.Errorf("ParseIPTables(%q) has %d rules; want %d", tt.in, n, tt.rules)
			}
		})
	}
}

func TestMergeIPTablesIntoNFT(t *testing.T) {
	// iptables-nft wrote a multiport rule nft can only show as xt: the
	// iptables-save view replaces it, keeping nft's handles.
	nft := `{"nftables":[{"chain":{"family":"ip","table":"filter","name":"INPUT","handle":1,"hook":"input","prio":0,"policy":"accept"}},` +
		`{"rule":{"family":"ip","table":"filter","chain":"INPUT","handle":7,"expr":[{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":"tcp"}},{"xt":{"type":"match","name":"multiport"}},{"xt":{"type":"target","name":"REJECT"}}]}}]}`
	rs, err := ParseNFT(strings.NewReader(nft))
	if err != nil {
		t.Fatal(err)
	}
	p := Packet{Proto: "tcp", Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.1"), DPort: 8080, Iif: "lo"}
	if d := rs.Evaluate(p); !d.Uncertain || d.Verdict != "reject" {
		t.Fatalf("before merge: Evaluate = %+v; want an uncertain reject", d)
	}
	ip, err := ParseIPTables(strings.NewReader("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m multiport --dports 80,8080 -j REJECT --reject-with tcp-reset\nCOMMIT\n"), "ip")
	if err != nil {
		t.Fatal(err)
	}
	rs.merge(ip)
	d := rs.Evaluate(p)
	if d.Uncertain || d.Verdict != "reject" || d.Rule.Handle != 7 {
		t.Errorf("after merge: Evaluate = %+v; want a certain reject by handle 7", d)
	}
	p.DPort = 9000
	if d := rs.Evaluate(p); d.Verdict != "accept" {
		t.Errorf("after merge: port 9000 = %+v; want accept", d)
	}
}

func FuzzParseIPTables(f *testing.F) {
	b, err := os.ReadFile("testdata/iptables-save.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Add("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT ! -s 1.2.3.4/32 -p 6 --dport 1:2 -g X\nCOMMIT\n")
	f.Add("*nat\n:PREROUTING ACCEPT\n-A PREROUTING \"unterminated\n")
	f.Fuzz(func(t *testing.T, in string) {
		rs, err := ParseIPTables(strings.NewReader(in), "ip")
		if err != nil {
			return
		}
		d := rs.Evaluate(Packet{Proto: "tcp", Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), DPort: 80})
		if d.Verdict != "accept" && d.Verdict != "drop" && d.Verdict != "reject" {
			t.Fatalf("verdict %q", d.Verdict)
		}
	})
}

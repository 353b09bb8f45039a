package doctor

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// ParseIPTables reads the output of `iptables-save` (family "ip") or
// `ip6tables-save` (family "ip6"). Tables become nft-like tables, the
// built-in INPUT and PREROUTING chains base chains with their policy, and a
// rule's Handle its 1-based position in its chain, as `iptables -L
// --line-numbers` counts. Options outside the modelled subset (-p, -s, -d,
// -i, --dport, --dports, --ctstate/--state, -j) make a rule Unknown.
func ParseIPTables(r io.Reader, family string) (*Ruleset, error) {
	rs := &Ruleset{Source: "iptables-save"}
	if family == "ip6" {
		rs.Source = "ip6tables-save"
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	table := ""
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		switch {
		case s == "" || s[0] == '#':
		case s[0] == '*':
			table = s[1:]
			if table == "" {
				return nil, fmt.Errorf("line %d: table without a name", line)
			}
		case s == "COMMIT":
			table = ""
		case s[0] == ':':
			if table == "" {
				return nil, fmt.Errorf("line %d: chain outside a table", line)
			}
			f := strings.Fields(s[1:])
			if len(f) < 2 {
				return nil, fmt.Errorf("line %d: %q is not a chain declaration", line, s)
			}
			c := &Chain{Family: family, Table: table, Name: f[0]}
			if f[1] != "-" {
				c.Policy = strings.ToLower(f[1])
				switch f[0] {
				case "INPUT":
					c.Hook = "input"
				case "PREROUTING":
					c.Hook = "prerouting"
				}
				c.Priority = iptablesPriority[table]
			}
			rs.Chains = append(rs.Chains, c)
		case strings.HasPrefix(s, "-A "):
			if table == "" {
				return nil, fmt.Errorf("line %d: rule outside a table", line)
			}
			args := splitArgs(s)
			if len(args) < 2 {
				return nil, fmt.Errorf("line %d: rule without a chain", line)
			}
			c := rs.chain(family, table, args[1])
			if c == nil {
				return nil, fmt.Errorf("line %d: rule for undeclared chain %q", line, args[1])
			}
			rule := &Rule{Family: family, Table: table, Chain: c.Name, Handle: len(c.Rules) + 1,
				Text: strings.TrimSpace(strings.TrimPrefix(s, "-A "+args[1]))}
			parseIPTablesRule(rule, args[2:])
			c.Rules = append(c.Rules, rule)
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", line, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading iptables rules: %w", err)
	}
	return rs, nil
}

// iptablesPriority maps tables to the nft priorities of their chains.
var iptablesPriority = map[string]int{"raw": -300, "mangle": -150, "nat": -100, "filter": 0, "security": 50}

// splitArgs splits an iptables-save line into words; iptables-save quotes
// words with spaces (comments) in double quotes.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
			have = true
		case (c == ' ' || c == '\t') && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

func parseIPTablesRule(rule *Rule, args []string) {
	neg := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "!" {
			neg = true
			continue
		}
		val := ""
		if i+1 < len(args) {
			val = args[i+1]
		}
		m := match{neg: neg}
		neg = false
		ok := true
		switch a {
		case "-p", "--protocol":
			i++
			m.field, m.words = "l4proto", []string{strings.ToLower(val)}
			if n, err := strconv.Atoi(val); err == nil {
				m.words = []string{protoNumbers[n]}
			}
			if val == "all" {
				continue
			}
		case "-s", "--source", "-d", "--destination":
			i++
			m.field = "saddr"
			if a == "-d" || a == "--destination" {
				m.field = "daddr"
			}
			for _, p := range strings.Split(val, ",") {
				pf, good := parsePrefix(p)
				ok = ok && good
				m.addrs = append(m.addrs, pf)
			}
		case "-i", "--in-interface":
			i++
			m.field, m.words = "iifname", []string{strings.ReplaceAll(val, "+", "*")}
		case "--dport", "--destination-port", "--dports", "--destination-ports":
			i++
			m.field = "dport"
			for _, p := range strings.Split(val, ",") {
				lo, hi, good := parsePortRange(p)
				ok = ok && good
				m.ports = append(m.ports, portRange{lo, hi})
			}
		case "--ctstate", "--state":
			i++
			m.field = "ctstate"
			m.words = append(m.words, strings.Split(strings.ToLower(val), ",")...)
		case "-m", "--match":
			i++
			switch val {
			case "tcp", "udp", "multiport", "conntrack", "state", "comment":
			default:
				rule.Unknown = true
			}
			continue
		case "--comment":
			i++
			continue
		case "-j", "--jump", "-g", "--goto":
			i++
			switch val {
			case "ACCEPT", "DROP", "REJECT", "RETURN":
				rule.Verdict = strings.ToLower(val)
			default:
				rule.Verdict, rule.Target = "jump", val
				if a == "-g" || a == "--goto" {
					rule.Verdict = "goto"
				}
				switch val { // targets that do not end evaluation
				case "LOG", "NFLOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TRACE":
					rule.Verdict, rule.Target = "", ""
				}
			}
			// Options of the target (--reject-with ...) follow: skip them.
			for i+1 < len(args) && strings.HasPrefix(args[i+1], "--") {
				i += 2
			}
			continue
		default:
			// --sport, -o, --tcp-flags, limits, recent, sets...
			rule.Unknown = true
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
			}
			continue
		}
		if !ok || m.field == "l4proto" && m.words[0] == "" {
			rule.Unknown = true
			continue
		}
		rule.matches = append(rule.matches, m)
	}
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			// iptables may print a dotted mask: 10.0.0.0/255.0.0.0.
			a, mask, _ := strings.Cut(s, "/")
			addr, err1 := netip.ParseAddr(a)
			m, err2 := netip.ParseAddr(mask)
			if err1 != nil || err2 != nil || !m.Is4() {
				return netip.Prefix{}, false
			}
			b := m.As4()
			n := 0
			for _, x := range b {
				for x&0x80 != 0 {
					n++
					x <<= 1
				}
			}
			return netip.PrefixFrom(addr, n).Masked(), true
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

func parsePortRange(s string) (lo, hi uint16, ok bool) {
	a, b, isRange := strings.Cut(s, ":")
	x, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, false
	}
	if !isRange {
		return uint16(x), uint16(x), true
	}
	y, err := strconv.ParseUint(b, 10, 16)
	if err != nil || y < x {
		return 0, 0, false
	}
	return uint16(x), uint16(y), true
}

// merge adds other's chains to rs, replacing a chain of rs with the same
// family, table and name when that chain holds rules rs could not read
// (iptables-nft's compat expressions, which iptables-save prints in full).
func (rs *Ruleset) merge(other *Ruleset) {
	for _, oc := range other.Chains {
		c := rs.chain(oc.Family, oc.Table, oc.Name)
		if c == nil {
			continue
		}
		unknown := false
		for _, r := range c.Rules {
			unknown = unknown || r.Unknown
		}
		if unknown && len(c.Rules) == len(oc.Rules) {
			// Same rules, better read: keep nft's handles.
			for i, r := range oc.Rules {
				r.Handle = c.Rules[i].Handle
			}
			c.Rules = oc.Rules
		}
	}
}

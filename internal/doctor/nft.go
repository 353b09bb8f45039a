package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// ParseNFT reads the output of `nft -j list ruleset` (libnftables JSON,
// schema version 1). Rules with expressions outside the modelled subset
// (payload ports and addresses, meta l4proto/nfproto/iifname, ct state,
// verdicts, counters and logging) are kept with Unknown set.
func ParseNFT(r io.Reader) (*Ruleset, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parsing nft JSON: %w", err)
	}
	if doc.Nftables == nil {
		return nil, fmt.Errorf("parsing nft JSON: no \"nftables\" array")
	}
	rs := &Ruleset{Source: "nft -j list ruleset"}
	sets := map[string][]any{} // "family table name" -> elements

	// Sets first: rules refer to them by name, and nft prints them in any
	// order relative to the rules.
	for _, obj := range doc.Nftables {
		raw, ok := obj["set"]
		if !ok {
			continue
		}
		var s struct {
			Family, Table, Name string
			Elem                []any `json:"elem"`
		}
		if err := unmarshalNumbers(raw, &s); err != nil {
			return nil, fmt.Errorf("parsing nft set: %w", err)
		}
		sets[s.Family+" "+s.Table+" "+s.Name] = s.Elem
	}
	for _, obj := range doc.Nftables {
		if raw, ok := obj["chain"]; ok {
			var c struct {
				Family, Table, Name string
				Handle              int
				Hook                string
				Prio                any
				Policy              string
			}
			if err := unmarshalNumbers(raw, &c); err != nil {
				return nil, fmt.Errorf("parsing nft chain: %w", err)
			}
			prio, _ := toInt(c.Prio)
			rs.Chains = append(rs.Chains, &Chain{Family: c.Family, Table: c.Table, Name: c.Name,
				Handle: c.Handle, Hook: c.Hook, Priority: prio, Policy: c.Policy})
		}
	}
	for _, obj := range doc.Nftables {
		raw, ok := obj["rule"]
		if !ok {
			continue
		}
		var jr struct {
			Family, Table, Chain string
			Handle               int
			Expr                 []map[string]any `json:"expr"`
		}
		if err := unmarshalNumbers(raw, &jr); err != nil {
			return nil, fmt.Errorf("parsing nft rule: %w", err)
		}
		c := rs.chain(jr.Family, jr.Table, jr.Chain)
		if c == nil {
			return nil, fmt.Errorf("parsing nft rule %d: chain %s %s %s not listed", jr.Handle, jr.Family, jr.Table, jr.Chain)
		}
		rule := &Rule{Family: jr.Family, Table: jr.Table, Chain: jr.Chain, Handle: jr.Handle}
		var text []string
		for _, e := range jr.Expr {
			t := nftExpr(rule, e, func(name string) ([]any, bool) {
				el, ok := sets[jr.Family+" "+jr.Table+" "+strings.TrimPrefix(name, "@")]
				return el, ok
			})
			if t != "" {
				text = append(text, t)
			}
		}
		rule.Text = strings.Join(text, " ")
		c.Rules = append(c.Rules, rule)
	}
	return rs, nil
}

func unmarshalNumbers(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	return dec.Decode(v)
}

// nftExpr adds one expression to rule and returns its text.
func nftExpr(rule *Rule, e map[string]any, set func(string) ([]any, bool)) string {
	if len(e) != 1 {
		rule.Unknown = true
		return "?"
	}
	for k, v := range e {
		switch k {
		case "counter", "log", "comment", "notrack":
			return ""
		case "accept", "drop", "return", "continue":
			rule.Verdict = k
			return k
		case "reject":
			rule.Verdict = "reject"
			return "reject"
		case "jump", "goto":
			rule.Verdict = k
			if m, ok := v.(map[string]any); ok {
				rule.Target, _ = m["target"].(string)
			}
			return k + " " + rule.Target
		case "match":
			m, ok := v.(map[string]any)
			if !ok {
				rule.Unknown = true
				return "?"
			}
			return nftMatch(rule, m, set)
		case "xt":
			// iptables-nft's compat expressions: the target's name is still
			// a verdict doctor can report, but not evaluate with certainty.
			rule.Unknown = true
			if m, ok := v.(map[string]any); ok && m["type"] == "target" {
				name, _ := m["name"].(string)
				switch name {
				case "REJECT", "DROP", "ACCEPT":
					rule.Verdict = strings.ToLower(name)
				}
				return "xt target " + name
			}
			return "xt match"
		default:
			// limit, quota (iptables-nft compat), meta set, mangle...:
			// conditions doctor cannot evaluate.
			rule.Unknown = true
			return k
		}
	}
	return ""
}

func nftMatch(rule *Rule, m map[string]any, set func(string) ([]any, bool)) string {
	op, _ := m["op"].(string)
	neg := false
	switch op {
	case "==", "in", "":
	case "!=":
		neg = true
	default:
		rule.Unknown = true
		return "? " + op
	}
	left, _ := m["left"].(map[string]any)
	right := m["right"]
	if s, ok := right.(string); ok && strings.HasPrefix(s, "@") {
		el, found := set(s)
		if !found {
			rule.Unknown = true
			return "? " + s
		}
		right = map[string]any{"set": el}
	}
	field, proto := "", ""
	if p, ok := left["payload"].(map[string]any); ok {
		proto, _ = p["protocol"].(string)
		f, _ := p["field"].(string)
		switch {
		case (proto == "tcp" || proto == "udp" || proto == "th") && (f == "dport" || f == "sport"):
			field = f
		case (proto == "ip" || proto == "ip6") && (f == "daddr" || f == "saddr"):
			field = f
		case (proto == "ip" && f == "protocol") || (proto == "ip6" && f == "nexthdr"):
			field = "l4proto"
		}
	} else if mt, ok := left["meta"].(map[string]any); ok {
		key, _ := mt["key"].(string)
		switch key {
		case "l4proto", "nfproto", "iifname":
			field = key
		}
	} else if ct, ok := left["ct"].(map[string]any); ok {
		if key, _ := ct["key"].(string); key == "state" {
			field = "ctstate"
		}
	}
	if field == "" {
		rule.Unknown = true
		return "?"
	}
	mm := match{field: field, neg: neg}
	vals := flatten(right)
	ok := true
	for _, v := range vals {
		switch field {
		case "dport", "sport":
			lo, hi, good := portValue(v)
			ok = ok && good
			mm.ports = append(mm.ports, portRange{lo, hi})
		case "daddr", "saddr":
			pf, good := prefixValue(v)
			ok = ok && good
			mm.addrs = append(mm.addrs, pf)
		default:
			s, good := v.(string)
			if !good {
				if n, isNum := toInt(v); isNum && field == "l4proto" {
					s, good = protoNumbers[n], protoNumbers[n] != ""
				}
			}
			ok = ok && good
			mm.words = append(mm.words, strings.ToLower(s))
		}
	}
	if !ok || len(vals) == 0 {
		rule.Unknown = true
		return "?"
	}
	text := fieldText(proto, field) + " " + valuesText(vals)
	if neg {
		text = fieldText(proto, field) + " != " + valuesText(vals)
	}
	if field == "sport" {
		// A client's source port is chosen by its kernel: doctor cannot
		// say whether such a rule applies.
		rule.Unknown = true
		return text
	}
	rule.matches = append(rule.matches, mm)
	// "tcp dport 22" also says the packet is TCP; "ip daddr" that it is IPv4.
	switch proto {
	case "tcp", "udp":
		rule.matches = append(rule.matches, match{field: "l4proto", words: []string{proto}})
	case "ip":
		rule.matches = append(rule.matches, match{field: "nfproto", words: []string{"ipv4"}})
	case "ip6":
		rule.matches = append(rule.matches, match{field: "nfproto", words: []string{"ipv6"}})
	}
	return text
}

var protoNumbers = map[int]string{6: "tcp", 17: "udp", 1: "icmp", 58: "ipv6-icmp"}

func fieldText(proto, field string) string {
	switch field {
	case "l4proto", "nfproto":
		return "meta " + field
	case "iifname":
		return field
	case "ctstate":
		return "ct state"
	}
	return proto + " " + field
}

func valuesText(vals []any) string {
	parts := make([]string, 0, len(vals))
	for _, v := range vals {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["range"].([]any); ok && len(r) == 2 {
				parts = append(parts, fmt.Sprintf("%v-%v", r[0], r[1]))
				continue
			}
			if p, ok := x["prefix"].(map[string]any); ok {
				parts = append(parts, fmt.Sprintf("%v/%v", p["addr"], p["len"]))
				continue
			}
			parts = append(parts, "?")
		default:
			parts = append(parts, fmt.Sprint(x))
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// flatten turns a match's right side into its values: a scalar, a list, or
// {"set": [...]}.
func flatten(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case map[string]any:
		if s, ok := x["set"]; ok {
			if l, ok := s.([]any); ok {
				var out []any
				for _, e := range l {
					// Set elements may be wrapped: {"elem": {"val": ...}}.
					if m, ok := e.(map[string]any); ok {
						if el, ok := m["elem"].(map[string]any); ok {
							e = el["val"]
						}
					}
					out = append(out, e)
				}
				return out
			}
			return []any{s}
		}
		return []any{x}
	case nil:
		return nil
	}
	return []any{v}
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.Atoi(string(x))
		return n, err == nil
	case float64:
		return int(x), x == float64(int(x))
	case int:
		return x, true
	}
	return 0, false
}

func portValue(v any) (lo, hi uint16, ok bool) {
	if m, isMap := v.(map[string]any); isMap {
		r, isList := m["range"].([]any)
		if !isList || len(r) != 2 {
			return 0, 0, false
		}
		a, _, okA := portValue(r[0])
		b, _, okB := portValue(r[1])
		return a, b, okA && okB && a <= b
	}
	if s, isStr := v.(string); isStr { // a service name nft could not map
		if n, known := services[s]; known {
			return n, n, true
		}
		return 0, 0, false
	}
	n, isNum := toInt(v)
	if !isNum || n < 0 || n > 65535 {
		return 0, 0, false
	}
	return uint16(n), uint16(n), true
}

var services = map[string]uint16{"ssh": 22, "http": 80, "https": 443, "domain": 53}

func prefixValue(v any) (netip.Prefix, bool) {
	switch x := v.(type) {
	case string:
		a, err := netip.ParseAddr(x)
		if err != nil {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	case map[string]any:
		if p, ok := x["prefix"].(map[string]any); ok {
			s, _ := p["addr"].(string)
			n, okN := toInt(p["len"])
			a, err := netip.ParseAddr(s)
			if err != nil || !okN || n < 0 || n > a.BitLen() {
				return netip.Prefix{}, false
			}
			return netip.PrefixFrom(a, n).Masked(), true
		}
		if r, ok := x["range"].([]any); ok && len(r) == 2 {
			// An address range: keep it only when it is one address.
			a, okA := prefixValue(r[0])
			b, okB := prefixValue(r[1])
			if okA && okB && a == b {
				return a, true
			}
		}
	}
	return netip.Prefix{}, false
}

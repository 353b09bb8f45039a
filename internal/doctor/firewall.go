package doctor

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Ruleset is a packet filter's rules, read from `nft -j list ruleset` or
// `iptables-save`. Only what decides whether a new incoming connection is
// let in is modelled; expressions doctor does not understand make a rule
// Unknown, and such a rule is never claimed as the culprit with certainty.
type Ruleset struct {
	// Source is the command the rules came from.
	Source string
	Chains []*Chain
}

// Chain is one chain of rules.
type Chain struct {
	Family string // nft family: ip, ip6, inet, ...
	Table  string
	Name   string
	Handle int
	// Hook is the netfilter hook of a base chain ("input", "prerouting",
	// ...), empty for a regular chain that is only jumped to.
	Hook     string
	Priority int
	// Policy is a base chain's default verdict: "accept" or "drop".
	Policy string
	Rules  []*Rule
}

// Rule is one firewall rule.
type Rule struct {
	Family string `json:"family"`
	Table  string `json:"table"`
	Chain  string `json:"chain"`
	// Handle is nft's rule handle; for iptables, the rule's position in its
	// chain (1-based). Zero for a chain's policy.
	Handle int `json:"handle"`
	// Verdict: accept, drop, reject, jump, goto, return, or "" (none).
	Verdict string `json:"verdict"`
	// Target is the chain a jump or goto goes to.
	Target string `json:"target,omitempty"`
	// Text is the rule as a person reads it, e.g. "tcp dport 3000 drop".
	Text string `json:"text"`
	// Unknown is true when the rule has matches doctor cannot evaluate.
	Unknown bool `json:"unknown,omitempty"`

	matches []match
}

// Name names the rule the way nft(8) addresses it.
func (r *Rule) Name() string {
	if r.Handle == 0 {
		return fmt.Sprintf("policy of table %s %s chain %s", r.Family, r.Table, r.Chain)
	}
	return fmt.Sprintf("table %s %s chain %s handle %d", r.Family, r.Table, r.Chain, r.Handle)
}

// match is one condition of a rule.
type match struct {
	field string // l4proto, dport, sport, daddr, saddr, iifname, oifname, ctstate, nfproto
	neg   bool
	ports []portRange
	addrs []netip.Prefix
	words []string // protocols, interface names (may end in *), conntrack states
}

type portRange struct{ lo, hi uint16 }

// Packet is the first packet of a connection, as the input hook sees it.
type Packet struct {
	Proto string // "tcp" or "udp"
	Src   netip.Addr
	Dst   netip.Addr
	DPort uint16
	// Iif is the input interface: "lo" for traffic from this machine to
	// itself, "" for "some interface other than lo".
	Iif string
}

// Decision is what the ruleset does to a packet.
type Decision struct {
	// Verdict is "accept", "drop" or "reject".
	Verdict string
	// Rule is the rule that decided, or the chain policy (Handle 0).
	Rule *Rule
	// Uncertain is true when the decision depends on a rule doctor could
	// not fully evaluate.
	Uncertain bool
}

// inputHooks are the hooks a new incoming connection passes, in order.
var inputHooks = map[string]int{"prerouting": 0, "input": 1}

// Evaluate runs p through the base chains of the input path and returns the
// first drop or reject, or an accept decision when nothing stops it.
func (rs *Ruleset) Evaluate(p Packet) Decision {
	if rs == nil {
		return Decision{Verdict: "accept"}
	}
	var base []*Chain
	for _, c := range rs.Chains {
		if _, ok := inputHooks[c.Hook]; ok && familyApplies(c.Family, p.Dst) {
			base = append(base, c)
		}
	}
	slices.SortStableFunc(base, func(a, b *Chain) int {
		if c := cmp.Compare(inputHooks[a.Hook], inputHooks[b.Hook]); c != 0 {
			return c
		}
		return cmp.Compare(a.Priority, b.Priority)
	})
	var maybe *Rule
	budget := maxSteps
	for _, c := range base {
		v, r, m := rs.walk(c, p, 0, &budget)
		if maybe == nil {
			maybe = m
		}
		if v == "" || v == "return" {
			v = c.Policy
			if v == "" {
				v = "accept"
			}
			r = &Rule{Family: c.Family, Table: c.Table, Chain: c.Name, Verdict: v, Text: "policy " + v}
		}
		if v == "drop" || v == "reject" {
			return Decision{Verdict: v, Rule: r, Uncertain: maybe != nil && maybe != r}
		}
	}
	if maybe != nil {
		return Decision{Verdict: maybe.Verdict, Rule: maybe, Uncertain: true}
	}
	return Decision{Verdict: "accept"}
}

// maxSteps bounds the rules one evaluation visits.
const maxSteps = 10000

// walk evaluates one chain. It returns the verdict ("" when the chain ran
// to its end), the rule that gave it, and the first unknown drop/reject
// rule passed on the way.
func (rs *Ruleset) walk(c *Chain, p Packet, depth int, budget *int) (verdict string, rule, maybe *Rule) {
	if depth > 16 {
		return "", nil, nil
	}
	for _, r := range c.Rules {
		if *budget--; *budget < 0 {
			// Chains that jump to each other in loops (which nft itself
			// refuses to load) must not make doctor hang.
			return "", nil, maybe
		}
		ok := rs.matches(r, p)
		if !ok {
			continue
		}
		if r.Unknown {
			if (r.Verdict == "drop" || r.Verdict == "reject") && maybe == nil {
				maybe = r
			}
			continue
		}
		switch r.Verdict {
		case "accept", "drop", "reject":
			return r.Verdict, r, maybe
		case "return":
			return "return", r, maybe
		case "jump", "goto":
			t := rs.chain(c.Family, c.Table, r.Target)
			if t == nil {
				continue
			}
			v, rr, m := rs.walk(t, p, depth+1, budget)
			if maybe == nil {
				maybe = m
			}
			if v != "" && v != "return" {
				return v, rr, maybe
			}
			if r.Verdict == "goto" {
				return "", nil, maybe
			}
		}
	}
	return "", nil, maybe
}

func (rs *Ruleset) chain(family, table, name string) *Chain {
	for _, c := range rs.Chains {
		if c.Family == family && c.Table == table && c.Name == name {
			return c
		}
	}
	return nil
}

func familyApplies(family string, dst netip.Addr) bool {
	switch family {
	case "inet", "":
		return true
	case "ip":
		return dst.Unmap().Is4()
	case "ip6":
		return !dst.Unmap().Is4()
	}
	return false // arp, bridge, netdev: not on the input path of IP
}

// matches reports whether every condition of r holds for p. Conditions on
// things doctor cannot know make the rule Unknown at parse time; those are
// ignored here and reported as uncertain by the caller.
func (rs *Ruleset) matches(r *Rule, p Packet) bool {
	for i := range r.matches {
		m := &r.matches[i]
		if m.matchOne(p) == m.neg {
			return false
		}
	}
	return true
}

func (m *match) matchOne(p Packet) bool {
	switch m.field {
	case "l4proto":
		return slices.Contains(m.words, p.Proto)
	case "nfproto":
		fam := "ipv6"
		if p.Dst.Unmap().Is4() {
			fam = "ipv4"
		}
		return slices.Contains(m.words, fam)
	case "dport":
		return inPorts(m.ports, p.DPort)
	case "daddr", "saddr":
		a := p.Dst
		if m.field == "saddr" {
			a = p.Src
		}
		a = a.Unmap()
		for _, pf := range m.addrs {
			if pf.Contains(a) {
				return true
			}
		}
		return false
	case "iifname":
		for _, w := range m.words {
			if p.Iif == "" {
				if w != "lo" { // some outside interface: any non-lo name may be it
					return true
				}
				continue
			}
			if w == p.Iif || strings.HasSuffix(w, "*") && strings.HasPrefix(p.Iif, strings.TrimSuffix(w, "*")) {
				return true
			}
		}
		return false
	case "ctstate":
		return slices.Contains(m.words, "new")
	}
	return false
}

func inPorts(rs []portRange, p uint16) bool {
	for _, r := range rs {
		if p >= r.lo && p <= r.hi {
			return true
		}
	}
	return false
}

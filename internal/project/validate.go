package project

import (
	"fmt"
	"slices"
	"strings"
)

// crossCheck finds the mistakes between services: names in after and in
// ${NAME.port} that are no service, cycles in after, and two services on one
// port.
func (d *decoder) crossCheck(f *File) {
	names := d.declared
	for _, s := range f.Services {
		for i, a := range s.After {
			if slices.Contains(names, a) {
				continue
			}
			p := []string{"services", s.Name, "after", index(i)}
			d.add(d.src.valOff(p), UnknownService, p, fmt.Sprintf("after names %q, which is no service of this file", a),
				serviceHint(a, names))
		}
		d.unknownRefs(names, []string{"services", s.Name, "run"}, s.run)
		d.unknownRefs(names, []string{"services", s.Name, "ready"}, s.ready)
		for i, e := range s.Env {
			d.unknownRefs(names, []string{"services", s.Name, "env", e.Name}, s.env[i])
		}
	}
	d.cycles(f)
	d.portClashes(f)
}

func serviceHint(name string, names []string) string {
	if s, ok := suggest(name, names); ok {
		return fmt.Sprintf("did you mean %q? the services are %s", s, quoteAll(names))
	}
	return fmt.Sprintf("the services are %s; add [services.%s] or remove it here", quoteAll(names), displayKey(name))
}

func (d *decoder) unknownRefs(names []string, path []string, t template) {
	for _, r := range t.refs() {
		if r.Service == "" || slices.Contains(names, r.Service) {
			continue
		}
		d.add(d.src.strOff(path, r.Off), UnknownService, path,
			fmt.Sprintf("%s refers to %q, which is no service of this file", r, r.Service),
			serviceHint(r.Service, names))
	}
}

// cycles reports each cycle of after once, at the after entry where it
// starts, naming it in the order services wait for each other:
// "db → api → db" is db after api, and api after db.
func (d *decoder) cycles(f *File) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	seen := map[string]bool{}
	var stack []string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		s, _ := f.Service(n)
		for _, a := range uniq(s.After) {
			if _, ok := f.Service(a); !ok {
				continue
			}
			switch color[a] {
			case white:
				visit(a)
			case grey:
				i := slices.Index(stack, a)
				cyc := slices.Clone(stack[i:])
				d.cycle(f, cyc, seen)
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range f.names() {
		if color[n] == white {
			visit(n)
		}
	}
}

func (d *decoder) cycle(f *File, cyc []string, seen map[string]bool) {
	// Start at the smallest name, so the same cycle reads the same way
	// whichever service the search began from.
	m := slices.Index(cyc, slices.Min(cyc))
	cyc = append(cyc[m:], cyc[:m]...)
	key := strings.Join(cyc, "\x00")
	if seen[key] {
		return
	}
	seen[key] = true
	first, _ := f.Service(cyc[0])
	next := cyc[(1)%len(cyc)]
	i := slices.Index(first.After, next)
	p := []string{"services", first.Name, "after", index(i)}
	text := strings.Join(append(cyc, cyc[0]), " → ")
	hint := "a service cannot wait for itself; remove one of these after entries"
	if len(cyc) == 1 {
		hint = fmt.Sprintf("a service cannot wait for itself; remove %q from its after", cyc[0])
	}
	d.add(d.src.valOff(p), Cycle, p, "after goes round in a cycle: "+text, hint)
}

// portClashes reports every service whose fixed port an earlier service of
// the file (in the order written) already has.
func (d *decoder) portClashes(f *File) {
	byFile := slices.Clone(f.Services)
	off := func(s *Service) int { return d.src.valOff([]string{"services", s.Name, "port"}) }
	slices.SortFunc(byFile, func(a, b *Service) int { return off(a) - off(b) })
	first := map[uint16]*Service{}
	for _, s := range byFile {
		if s.Port == 0 {
			continue
		}
		o, ok := first[s.Port]
		if !ok {
			first[s.Port] = s
			continue
		}
		line, col := d.src.lineCol(off(o))
		p := []string{"services", s.Name, "port"}
		d.add(off(s), PortClash, p,
			fmt.Sprintf("port %d is already the port of %s (%s:%d:%d)", s.Port, o.Name, d.src.name, line, col),
			fmt.Sprintf("give %s another port, or remove its port so homeport picks a free one", s.Name))
	}
}

func uniq(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

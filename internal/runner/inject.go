package runner

import (
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Injection is what Inject added to a command line: the dev server it
// recognised, which does not read PORT, and the flags that give it the port.
type Injection struct {
	Server string   // "vite", "astro", "ng", "next"
	Args   []string // e.g. --port 4123 --strictPort
}

// devServer is one dev server that ignores PORT: the subcommands that serve
// (an empty string: the tool alone, as `vite` is), and the flags that set a
// port, for "the user set one already".
type devServer struct {
	serves    []string
	portFlags []string
	extra     []string // flags after --port N
}

// devServers is built on first use, not at every command's start.
var devServers = sync.OnceValue(func() map[string]devServer {
	return map[string]devServer{
		// `vite`, `vite dev`, `vite serve`, `vite preview`, `vite ./site`: all
		// but build and optimize serve. Without --strictPort Vite moves to the
		// next port when its own is taken, and the route would be wrong.
		"vite":  {serves: []string{"", "dev", "serve", "preview", "*"}, portFlags: []string{"--port"}, extra: []string{"--strictPort"}},
		"astro": {serves: []string{"dev", "preview"}, portFlags: []string{"--port"}},
		"ng":    {serves: []string{"serve", "s"}, portFlags: []string{"--port"}},
		"next":  {serves: []string{"dev"}, portFlags: []string{"--port", "-p"}},
	}
})

// notServing are Vite's subcommands that do not serve.
var notServing = []string{"build", "optimize"}

// Inject returns argv with the flags that give a dev server that ignores PORT
// the port, and what it added; argv itself and a nil Injection when argv is
// no such server or already names a port. It knows the servers run directly
// (`vite`, `node_modules/.bin/vite`), through a package runner (`npx vite`,
// `pnpm exec vite`, `bunx vite`), and through a package.json script
// (`npm run dev` whose script is `vite`): script reads that script from the
// package.json of the command's folder (nil: scripts are not looked at).
func Inject(argv []string, port int, script func(name string) (string, bool)) ([]string, *Injection) {
	if len(argv) == 0 {
		return argv, nil
	}
	tool, rest := unwrap(argv)
	if tool != "" {
		inj := injectFor(tool, rest, port)
		if inj == nil {
			return argv, nil
		}
		return append(slices.Clone(argv), inj.Args...), inj
	}
	// A package.json script: npm run NAME, pnpm [run] NAME, yarn [run] NAME,
	// bun run NAME.
	at, dashed, ok := scriptName(argv)
	if !ok || script == nil {
		return argv, nil
	}
	body, ok := script(argv[at])
	if !ok {
		return argv, nil
	}
	words, ok := scriptWords(body)
	if !ok {
		return argv, nil
	}
	stool, srest := unwrap(words)
	if stool == "" {
		return argv, nil
	}
	// The flags already given to the script count as the script's own.
	given := slices.DeleteFunc(slices.Clone(argv[at+1:]), func(a string) bool { return a == "--" })
	inj := injectFor(stool, append(slices.Clone(srest), given...), port)
	if inj == nil {
		return argv, nil
	}
	out := slices.Clone(argv)
	// npm passes on only what follows "--"; pnpm, yarn and bun pass on
	// everything after the script's name, "--" or not.
	if dashed < 0 && toolName(argv[0]) == "npm" {
		out = append(out, "--")
	}
	return append(out, inj.Args...), inj
}

// unwrap returns the dev-server tool argv runs, and the arguments after it,
// seeing through npx, bunx, pnpx, `pnpm exec|dlx`, `yarn exec|dlx`, `npm exec`
// and a path to the tool; "" when argv runs none of devServers.
func unwrap(argv []string) (string, []string) {
	base := toolName(argv[0])
	if _, ok := devServers()[base]; ok {
		return base, argv[1:]
	}
	i := 1
	switch base {
	case "npx", "bunx", "pnpx":
	case "pnpm", "yarn", "npm":
		if len(argv) < 2 || (argv[1] != "exec" && argv[1] != "dlx" && argv[1] != "x") {
			return "", nil
		}
		i = 2
	default:
		return "", nil
	}
	// Skip the runner's own flags (npx --yes vite). A runner flag taking a
	// value (--package x) is not guessed at: nothing is injected then.
	for i < len(argv) && strings.HasPrefix(argv[i], "-") {
		if argv[i] == "--" {
			i++
			break
		}
		if strings.HasPrefix(argv[i], "--package") || argv[i] == "-p" {
			return "", nil
		}
		i++
	}
	if i >= len(argv) {
		return "", nil
	}
	pkg := argv[i]
	// vite@7, but not a scoped @angular/cli (its tool is "ng", run as ng).
	if at := strings.LastIndexByte(pkg, '@'); at > 0 {
		pkg = pkg[:at]
	}
	if _, ok := devServers()[pkg]; ok {
		return pkg, argv[i+1:]
	}
	return "", nil
}

// injectFor returns the flags tool needs to serve on port given its
// arguments, or nil when it needs none (it does not serve, or a port flag is
// there already).
func injectFor(tool string, args []string, port int) *Injection {
	ds := devServers()[tool]
	sub := ""
	for _, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			sub = a
			break
		}
	}
	switch {
	case slices.Contains(ds.serves, sub):
	case slices.Contains(ds.serves, "*") && !slices.Contains(notServing, sub):
	default:
		return nil
	}
	for _, a := range args {
		for _, f := range ds.portFlags {
			if a == f || strings.HasPrefix(a, f+"=") {
				return nil
			}
		}
	}
	inj := &Injection{Server: tool, Args: []string{"--port", strconv.Itoa(port)}}
	for _, e := range ds.extra {
		if !slices.Contains(args, e) {
			inj.Args = append(inj.Args, e)
		}
	}
	return inj
}

// scriptName returns the index in argv of the package.json script argv runs,
// and the index of a "--" in argv (-1: none).
func scriptName(argv []string) (at, dashed int, ok bool) {
	dashed = slices.Index(argv, "--")
	base := toolName(argv[0])
	i := 1
	switch base {
	case "npm", "bun":
		if len(argv) < 3 || (argv[1] != "run" && argv[1] != "run-script") {
			if base == "npm" && len(argv) >= 2 && argv[1] == "start" {
				return 1, dashed, true
			}
			return 0, -1, false
		}
		i = 2
	case "pnpm", "yarn":
		if len(argv) < 2 {
			return 0, -1, false
		}
		if argv[1] == "run" {
			i = 2
		}
	default:
		return 0, -1, false
	}
	if i >= len(argv) || strings.HasPrefix(argv[i], "-") || (dashed >= 0 && dashed < i) {
		return 0, -1, false
	}
	return i, dashed, true
}

// scriptWords splits a package.json script that is one plain command into
// words, past leading VAR=value assignments; not ok for anything a shell
// would read otherwise (&&, pipes, quotes, substitutions): flags appended to
// such a script would not reach the server.
func scriptWords(s string) ([]string, bool) {
	if strings.ContainsAny(s, "&|;<>()`$'\"\\\n") {
		return nil, false
	}
	words := strings.Fields(s)
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
		words = words[1:]
	}
	if len(words) > 0 && words[0] == "cross-env" {
		words = words[1:]
		for len(words) > 0 && strings.Contains(words[0], "=") {
			words = words[1:]
		}
	}
	return words, len(words) > 0
}

// PackageScripts reads the "scripts" of a package.json.
func PackageScripts(r io.Reader) (map[string]string, error) {
	var pkg struct {
		Scripts map[string]string `json:"scripts"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 4<<20)).Decode(&pkg); err != nil {
		return nil, err
	}
	return pkg.Scripts, nil
}

// toolName is the program's name without its folder (either slash: a
// Windows path reads the same everywhere) and extension.
func toolName(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	return trimExe(s)
}

func trimExe(s string) string {
	for _, ext := range []string{".exe", ".cmd", ".ps1", ".js", ".mjs"} {
		if strings.HasSuffix(strings.ToLower(s), ext) {
			return s[:len(s)-len(ext)]
		}
	}
	return s
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/daemon"
	"homeport/internal/project"
)

// CheckOptions are the flags of `homeport check`.
type CheckOptions struct {
	IO      *IO
	Factory *Factory
	File    string // --file; "" finds homeport.toml from Dir up
	Dir     string // the working folder
	JSON    bool
}

// NewCmdCheck builds `homeport check`.
func NewCmdCheck(f *Factory, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check homeport.toml and show how its services would start",
		Long: `Check the project file, homeport.toml, and print the plan: each service's
start order, port and URL. The file is the one in this folder or the nearest
parent that has one (as git finds .git); --file names another.

Every mistake is reported at once, each with file:line:column, the key, what
is wrong and what would be right: unknown keys, values of the wrong type,
ports outside 1-65535, two services on one port, a fixed port another process
listens on now, names in after or ${NAME.port} that are no service, cycles in
after, service names that are not DNS labels (NAME becomes NAME.localhost).

  [services.db]
  run   = "postgres -D ./data -p ${port}"
  port  = 5433                      # fixed; without it, a free port stable for the name

  [services.api]
  run   = "go run ./cmd/api"
  env   = { DATABASE_URL = "postgres://localhost:${db.port}/app" }
  ready = "http://localhost:${port}/health"   # a 'homeport wait' target; default: the port answers
  after = ["db"]                    # start once db is ready

  [services.web]
  run   = "npx vite"
  after = ["api"]

A service's keys: run (the command, for the shell; required), port, env
(strings; PORT and HOST=127.0.0.1 are set first), ready, after, restart ("no"
or "on-failure") and dir (relative to the file's folder). run, env and ready
may say ${port} and ${url} (the service's own), ${NAME.port} and ${NAME.url}
(another's); $$ is a literal $, so the shell's own ${HOME} is written $${HOME}.

A port without 'port' is the one 'homeport free --name NAME' prints: the same
every day while it stays free. URLs are http://NAME.localhost:62893, served
by homeport's router (on the daemon's own port when it runs on another).

Exit status: 0 the file is right, 1 it has mistakes, 2 no file or bad input.`,
		Example: `  homeport check
  homeport check --file ../shop/homeport.toml
  homeport check --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := os.Getwd()
			if err != nil {
				return fmt.Errorf("finding the working folder: %w", err)
			}
			opts.Dir = dir
			if runF != nil {
				return runF(opts)
			}
			return checkRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", "the project file (default: homeport.toml here or in the nearest parent)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the plan or the problems as JSON")
	return cmd
}

// checkJSON is what --json prints. Fields are stable.
type checkJSON struct {
	File     string             `json:"file"`
	OK       bool               `json:"ok"`
	Services []checkServiceJSON `json:"services"`
	Problems []checkProblemJSON `json:"problems"`
}

type checkServiceJSON struct {
	Name    string            `json:"name"`
	Order   int               `json:"order"`
	Port    uint16            `json:"port"`
	Fixed   bool              `json:"fixed"`
	URL     string            `json:"url"`
	Run     string            `json:"run"`
	Env     map[string]string `json:"env"`
	Ready   string            `json:"ready"`
	After   []string          `json:"after"`
	Restart string            `json:"restart"`
	Dir     string            `json:"dir"`
}

type checkProblemJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Key     string `json:"key"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

func checkRun(ctx context.Context, opts *CheckOptions) error {
	plan, err := project.Check(ctx, project.CheckOptions{
		File: opts.File, Dir: opts.Dir,
		Plan: project.PlanOptions{Take: opts.Factory.Take, RouterPort: routerPort(ctx)},
	})
	var probs project.Problems
	switch {
	case errors.Is(err, project.ErrNotFound):
		return &ExitError{Code: exitUsage, Msg: err.Error(),
			Hint: "write one (see 'homeport check --help' for an example), or name it: homeport check --file path/to/homeport.toml"}
	case errors.Is(err, os.ErrNotExist) && opts.File != "":
		return &ExitError{Code: exitUsage, Msg: fmt.Sprintf("%s does not exist", opts.File),
			Hint: "name an existing file with --file, or leave --file out to use the homeport.toml of this folder or a parent"}
	case errors.As(err, &probs):
		return checkProblems(opts, probs)
	case err != nil:
		return err
	}
	if opts.JSON {
		out := checkJSON{File: plan.File.Path, OK: true, Services: []checkServiceJSON{}, Problems: []checkProblemJSON{}}
		for _, s := range plan.Services {
			env := map[string]string{}
			for _, kv := range s.Env {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			out.Services = append(out.Services, checkServiceJSON{
				Name: s.Name, Order: s.Order, Port: s.Port, Fixed: s.Fixed, URL: s.URL, Run: s.Run, Env: env,
				Ready: readyText(s), After: append([]string{}, s.After...), Restart: string(s.Restart), Dir: s.Dir,
			})
		}
		return writeCheckJSON(opts.IO, out)
	}
	n := len(plan.Services)
	fmt.Fprintf(opts.IO.Out, "%s: %s, %s\n", opts.IO.paint(styleGreen, "ok"), plan.File.Path, plural(n, "service", "services"))
	t := newTable(opts.IO, "ORDER", "SERVICE", "PORT", "URL", "AFTER", "READY")
	for _, s := range plan.Services {
		port := cell{text: strconv.Itoa(int(s.Port))}
		if !s.Fixed {
			port.text += " (picked)"
		}
		after := strings.Join(s.After, ",")
		if after == "" {
			after = "-"
		}
		ready := s.ReadyText
		if ready == "" {
			ready = fmt.Sprintf("port %d answers", s.Port)
		}
		t.row(cell{text: strconv.Itoa(s.Order)}, cell{text: s.Name, style: styleBold}, port,
			cell{text: s.URL}, cell{text: after}, cell{text: ready, style: styleDim})
	}
	return t.flush()
}

// readyText is the ready target as `homeport wait` takes it.
func readyText(s project.Planned) string {
	if s.ReadyText != "" {
		return s.ReadyText
	}
	return s.Ready.String()
}

// checkProblems reports every problem: compiler-style lines on stderr
// (file:line:col first, which editors and terminals open), or JSON.
func checkProblems(opts *CheckOptions, probs project.Problems) error {
	file := probs[0].File
	if opts.JSON {
		out := checkJSON{File: file, Services: []checkServiceJSON{}, Problems: []checkProblemJSON{}}
		for _, p := range probs {
			out.Problems = append(out.Problems, checkProblemJSON{File: p.File, Line: p.Line, Column: p.Column,
				Key: p.Key, Kind: string(p.Kind), Message: p.Msg, Hint: p.Hint})
		}
		if err := writeCheckJSON(opts.IO, out); err != nil {
			return err
		}
		return silent(exitFailure)
	}
	for _, p := range probs {
		fmt.Fprintln(opts.IO.Err, p.Error())
		if p.Hint != "" {
			fmt.Fprintf(opts.IO.Err, "\thint: %s\n", p.Hint)
		}
	}
	n := len(probs)
	return &ExitError{Code: exitFailure, Msg: fmt.Sprintf("%s has %s", file, plural(n, "problem", "problems")),
		Hint: "fix the file and run 'homeport check' again"}
}

func writeCheckJSON(o *IO, v any) error {
	enc := json.NewEncoder(o.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// routerPort is the port of the running daemon's router, which the URLs
// name; 0 (the default port) when no daemon runs.
func routerPort(ctx context.Context) uint16 {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if st, err := daemon.Find(ctx); err == nil {
		return uint16(st.Port)
	}
	return 0
}

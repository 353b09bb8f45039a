package project

import (
	"context"
	"path/filepath"
	"strings"
)

// CheckOptions say which file to check and how.
type CheckOptions struct {
	// File names the project file; "" finds homeport.toml from Dir up.
	File string
	// Dir is where to look from, and what a found file's path is shown
	// relative to.
	Dir string
	// Plan is passed to File.Plan (Take set: fixed ports held by other
	// processes are problems).
	Plan PlanOptions
}

// Check finds, reads and checks a project file and plans it: what
// `homeport check` does, and the runner before it starts anything. The
// error is Problems when the file has mistakes, wraps ErrNotFound when
// there is no file, and is about the machine otherwise.
func Check(ctx context.Context, opts CheckOptions) (*Plan, error) {
	path, shown := opts.File, opts.File
	if path == "" {
		found, err := Find(opts.Dir)
		if err != nil {
			return nil, err
		}
		path, shown = found, found
		if rel, err := filepath.Rel(absOr(opts.Dir), found); err == nil && !strings.HasPrefix(rel, ".."+string(filepath.Separator)+"..") {
			shown = rel
		}
	} else if opts.Dir != "" && !filepath.IsAbs(path) {
		path = filepath.Join(opts.Dir, path)
	}
	f, probs, err := load(path, shown)
	if err != nil {
		return nil, err
	}
	if len(probs) > 0 {
		// Say also what only the system knows, so that one run shows
		// every mistake.
		if f != nil {
			more, err := f.systemProblems(ctx, opts.Plan)
			if err != nil {
				return nil, err
			}
			probs = append(probs, more...)
			probs.sort()
		}
		return nil, probs
	}
	return f.Plan(ctx, opts.Plan)
}

func absOr(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}

package ports

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"homeport/internal/procs"
)

// Holds keep parallel pickers (test runs started side by side, each
// calling `homeport free`) from being handed the same port in the moment
// between "picked" and "the server binds it".
//
// Each port has a lock file, <Dir>/<port>.lock. A picker locks it with an
// exclusive, non-blocking flock, checks that nobody held the port,
// checks that it is bindable, writes its hold into the file, and only
// then unlocks. The hold names an expiry time and a holder process (by
// PID and start time); it stands until it expires or the holder exits. For
// `homeport free` the holder is the program that ran it (the shell script or
// test runner), since homeport itself exits at once.
//
// A process that holds a port through this package and keeps the
// Hold open holds the flock too, and the kernel drops it the moment
// that process dies, however it dies.
//
// A hold made for a name (`--name api`) does not stand in the way of
// the same name: asking again for "api" gives the same port.
//
// The files are a few bytes each and stay where they are: the runtime
// directory is emptied at logout or reboot. Removing them while others may
// hold their lock would let two pickers lock two different files for one port.
type Holds struct {
	Dir    string
	TTL    time.Duration // how long a hold stands at most
	Holder Holder        // whose exit ends a hold; zero: only TTL counts

	now   func() time.Time
	alive func(Holder) bool
}

// Holder names one process by PID and start time.
type Holder struct {
	PID        int
	StartTicks uint64
}

// DefaultTTL is how long `homeport free` holds a port by default.
const DefaultTTL = 30 * time.Second

// CurrentHolder returns the process pid as a Holder, with its start time.
func CurrentHolder(pid int) Holder {
	p, err := procs.Get(pid)
	if err != nil {
		return Holder{}
	}
	return Holder{PID: pid, StartTicks: p.StartTicks}
}

// NewHolds returns holds kept in RuntimeDir()/ports.
func NewHolds(ttl time.Duration, holder Holder) (*Holds, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return nil, err
	}
	dir = filepath.Join(dir, "ports")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the hold directory: %w", err)
	}
	return &Holds{Dir: dir, TTL: ttl, Holder: holder}, nil
}

// RuntimeDir returns homeport's directory for short-lived per-user files:
// $XDG_RUNTIME_DIR/homeport, or <temp>/homeport-<uid> when that is unset. It
// creates it (mode 0700) and refuses one that another user owns or can write.
func RuntimeDir() (string, error) {
	var dir string
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) {
		dir = filepath.Join(x, "homeport")
	} else {
		name := "homeport"
		if uid := os.Getuid(); uid >= 0 {
			name += "-" + strconv.Itoa(uid)
		}
		dir = filepath.Join(os.TempDir(), name)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("refusing to use %s: it is not a directory", dir)
	}
	if err := checkPrivateDir(dir, fi); err != nil {
		return "", err
	}
	return dir, nil
}

// Hold is a held port whose lock file is still locked.
type Hold struct {
	Port uint16
	f    *os.File
}

// Unlock lets go of the lock but keeps the hold: it stands until it
// expires or its holder exits.
func (r *Hold) Unlock() {
	if r.f != nil {
		r.f.Close() // closing drops the flock
		r.f = nil
	}
}

// Release gives the port back at once.
func (r *Hold) Release() {
	if r.f != nil {
		_ = r.f.Truncate(0)
		r.Unlock()
	}
}

// Hold holds port p for name if nobody else holds it and it is
// bindable. It returns nil, nil when the port is taken or held.
func (rs *Holds) Hold(p uint16, name string) (*Hold, error) {
	return rs.hold(p, name, Bindable)
}

func (rs *Holds) hold(p uint16, name string, bindable func(uint16) bool) (*Hold, error) {
	path := filepath.Join(rs.Dir, strconv.Itoa(int(p))+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening hold %s: %w", path, err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, nil // someone is taking it right now
		}
		if errors.Is(err, errors.ErrUnsupported) {
			// No file locks here: fall back to the bind check alone.
			if bindable(p) {
				return &Hold{Port: p}, nil
			}
			return nil, nil
		}
		return nil, fmt.Errorf("locking hold %s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 512))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading hold %s: %w", path, err)
	}
	if rec, ok := parseRecord(b); ok && rs.stands(rec, name) {
		f.Close()
		return nil, nil
	}
	if !bindable(p) {
		f.Close()
		return nil, nil
	}
	rec := record{Expires: rs.clock().Add(rs.TTL), Holder: rs.Holder, Name: name}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(rec.marshal(), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("writing hold %s: %w", path, err)
	}
	return &Hold{Port: p, f: f}, nil
}

func (rs *Holds) clock() time.Time {
	if rs.now != nil {
		return rs.now()
	}
	return time.Now()
}

// stands reports whether rec still keeps others from the port.
func (rs *Holds) stands(rec record, name string) bool {
	if !rs.clock().Before(rec.Expires) {
		return false
	}
	if name != "" && rec.Name == name {
		return false
	}
	if rec.Holder.PID == 0 {
		return true
	}
	alive := rs.alive
	if alive == nil {
		alive = holderAlive
	}
	return alive(rec.Holder)
}

func holderAlive(h Holder) bool { return procs.OS().Alive(h.PID, h.StartTicks) }

// record is the content of a lock file: one line,
// "<expiry unix ns> <holder pid> <holder start ticks> <quoted name>".
type record struct {
	Expires time.Time
	Holder  Holder
	Name    string
}

func (r record) marshal() []byte {
	return fmt.Appendf(nil, "%d %d %d %q\n", r.Expires.UnixNano(), r.Holder.PID, r.Holder.StartTicks, r.Name)
}

// parseRecord reads a lock file; an empty or garbled one holds nothing.
func parseRecord(b []byte) (record, bool) {
	var ns int64
	var r record
	if _, err := fmt.Sscanf(string(b), "%d %d %d %q\n", &ns, &r.Holder.PID, &r.Holder.StartTicks, &r.Name); err != nil {
		return record{}, false
	}
	if r.Holder.PID < 0 {
		return record{}, false
	}
	r.Expires = time.Unix(0, ns)
	return r, true
}

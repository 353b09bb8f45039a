package procs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times. It is 100 on
// every Linux architecture Go supports; reading it would need cgo (sysconf).
const clockTicks = 100

func get(pid int) (*Process, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
		}
		return nil, fmt.Errorf("reading %s/stat: %w", dir, err)
	}
	st, err := ParseStat(b)
	if err != nil {
		return nil, fmt.Errorf("reading %s/stat: %w", dir, err)
	}
	p := &Process{
		PID:        pid,
		PPID:       st.PPID,
		Name:       st.Name,
		State:      string(st.State),
		UID:        -1,
		StartTicks: st.StartTicks,
	}
	if bt, err := bootTime(); err == nil {
		p.Start = bt.Add(time.Duration(st.StartTicks) * time.Second / clockTicks)
	}
	var sb unix.Stat_t
	if err := unix.Stat(dir, &sb); err == nil {
		p.UID = int(sb.Uid)
		p.User = UserName(p.UID)
	}
	// cmdline is empty for kernel threads and zombies, and unreadable for
	// some processes of other users: the name still says what it is.
	if cl, err := os.ReadFile(dir + "/cmdline"); err == nil {
		p.Cmdline = ParseCmdline(cl)
	}
	return p, nil
}

var bootTime = sync.OnceValues(func() (time.Time, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	return parseBootTime(f)
})

func parseBootTime(f *os.File) (time.Time, error) {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("btime ")); ok {
			s, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("reading /proc/stat: btime %q", v)
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, errors.New("reading /proc/stat: no btime line")
}

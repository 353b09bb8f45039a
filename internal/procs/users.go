package procs

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
)

var userNames sync.Map // int → string

// UserName returns the login name of uid, or the number when it has none.
// Names are looked up once per uid: a listing of thousands of sockets asks
// for the same few users again and again.
func UserName(uid int) string {
	if v, ok := userNames.Load(uid); ok {
		return v.(string)
	}
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	userNames.Store(uid, name)
	return name
}

// UnknownUserError is a user name that this system does not know.
type UnknownUserError struct {
	Name string
	// Closest is the known user name nearest to Name ("" when none is
	// near): what the user probably meant.
	Closest string
}

func (e *UnknownUserError) Error() string {
	return "no user " + strconv.Quote(e.Name) + " on this system"
}

// LookupUID returns the uid of a user given by name or number. A number is
// taken as it is, named or not (a container's files often belong to uids
// without a name). An unknown name is an *UnknownUserError.
func LookupUID(name string) (int, error) {
	if uid, err := strconv.Atoi(name); err == nil && uid >= 0 {
		return uid, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return -1, err
		}
		return -1, &UnknownUserError{Name: name, Closest: closest(name, systemUserNames())}
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		// Windows' uids are SIDs: there is no number to compare.
		return -1, nil
	}
	return uid, nil
}

// systemUserNames lists the users of /etc/passwd; none where there is no
// such file (Windows).
func systemUserNames() []string {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return nil
	}
	defer f.Close()
	return parsePasswd(f)
}

// parsePasswd returns the user names of a passwd(5) file, in order, skipping
// comments, blank lines and NIS "+"/"-" entries.
func parsePasswd(r io.Reader) []string {
	var names []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, _, ok := strings.Cut(line, ":")
		if !ok || name == "" || line[0] == '#' || name[0] == '+' || name[0] == '-' {
			continue
		}
		names = append(names, name)
	}
	return names
}

// closest returns the name of names nearest to s by edit distance, when it is
// near enough to be a typo (at most 2 edits, or a third of s), or "".
func closest(s string, names []string) string {
	best, bestD := "", max(2, len(s)/3)+1
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

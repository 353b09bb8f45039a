package cli

import (
	"os/user"
	"strconv"
	"sync"
)

var userCache sync.Map // int → string

// lookupUser names a uid, or returns the number when the uid has no name.
func lookupUser(uid int) string {
	if v, ok := userCache.Load(uid); ok {
		return v.(string)
	}
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	userCache.Store(uid, name)
	return name
}

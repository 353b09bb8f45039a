package httpguard

// Hostname takes a Host header value apart as Allowed does: it drops the port,
// the brackets around an IPv6 literal and one trailing dot, and folds the
// case. It reports false for anything that cannot be a host name or an IP
// literal (a zone, a bad port, an empty label, an inet_aton shorthand such as
// "127.1"), so that other packages (the router's NAME.localhost parser) read
// Host headers by the same rules as the allow-list.
func Hostname(host string) (string, bool) {
	return hostname(host)
}

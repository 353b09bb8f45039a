package daemon

import (
	"os"
	"os/exec"
	"runtime"
)

// Desktop reports whether a browser can be opened here: macOS and Windows
// always, other systems when a display is set (DISPLAY, WAYLAND_DISPLAY).
// An ssh session or a CI runner has none.
func Desktop() bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// OpenBrowser opens url in the user's browser, without waiting for it.
func OpenBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

// Command homeport shows and manages the ports of a developer's machine.
package main

import (
	"os"

	"homeport/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.System()))
}

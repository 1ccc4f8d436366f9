package main

import (
	"errors"
	"flag"
)

// parseFlags parses a subcommand's args. stop is true when the command must
// return err at once: nil after -h (the usage was printed), or exit code 2
// after a bad flag (flag already printed the problem and the usage).
func parseFlags(fs *flag.FlagSet, args []string) (stop bool, err error) {
	err = fs.Parse(args)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, flag.ErrHelp):
		return true, nil
	default:
		return true, withCode(2, errReported)
	}
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/understudy/understudy/inventory"
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

// startDaemon finishes the flags of a daemon that reads an inventory (-f
// FILE and logFlags): it requires -f and no arguments, builds the logger and
// loads the inventory. A nil inventory means the command returns err at
// once (nil after -h).
func startDaemon(fs *flag.FlagSet, args []string, file *string, newLogger func() (*slog.Logger, error), stderr io.Writer) (*slog.Logger, *inventory.Inventory, error) {
	if stop, err := parseFlags(fs, args); stop {
		return nil, nil, err
	}
	if *file == "" || fs.NArg() > 0 {
		fs.Usage()
		return nil, nil, withCode(2, errReported)
	}
	logger, err := newLogger()
	if err != nil {
		return nil, nil, withCode(2, err)
	}
	inv, err := loadInventory(*file, stderr)
	return logger, inv, err
}

// logFlags adds --log-level and --log-format to fs. The function it returns
// builds the logger from them once fs is parsed.
func logFlags(fs *flag.FlagSet, w io.Writer) func() (*slog.Logger, error) {
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	return func() (*slog.Logger, error) { return agentLogger(w, *level, *format) }
}

// agentLogger builds the slog logger for daemons.
func agentLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}

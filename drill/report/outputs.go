package report

import (
	"fmt"
	"io"
	"os"

	"github.com/understudy/understudy/drill"
)

// WriteOutputs writes what `understudy drill` was asked for: the text
// report to stdout unless jsonOut is "-", then the JSON to jsonOut and the
// SVG chart to svgOut, each a file path, "-" for stdout or "" for none.
func WriteOutputs(stdout io.Writer, res *drill.Result, jsonOut, svgOut string) error {
	if jsonOut != "-" {
		if err := WriteReport(stdout, res); err != nil {
			return err
		}
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer, *drill.Result) error
	}{{jsonOut, WriteJSON}, {svgOut, WriteSVG}} {
		switch out.path {
		case "":
		case "-":
			if err := out.write(stdout, res); err != nil {
				return err
			}
		default:
			if err := writeFileWith(out.path, res, out.write); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFileWith creates path and writes res into it with write.
func writeFileWith[T any](path string, res T, write func(io.Writer, T) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := write(f, res); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// OfService returns the drills of h that drilled service, in h's order.
func OfService(h []drill.Result, service string) []drill.Result {
	var keep []drill.Result
	for _, r := range h {
		if r.Service == service {
			keep = append(keep, r)
		}
	}
	return keep
}

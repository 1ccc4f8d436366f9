// Package etcdlog builds the logger of understudy's embedded etcd servers
// (embedded.Start, ha.StartPeers): etcd's own zap output, as JSON on
// stderr at a chosen level, without the error lines etcd prints on every
// normal shutdown ("setting up serving from embedded etcd failed" with a
// closed listener), which would otherwise alarm an operator at each stop.
package etcdlog

import (
	"fmt"
	"io"
	"os"
	"strings"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultLevel is the level when none is given: etcd's warnings are
// frequent and mostly about its own timing.
const DefaultLevel = "error"

// Use sets ec's logger: level (DefaultLevel when empty) to stderr.
func Use(ec *embed.Config, level string) error { return useWriter(ec, level, os.Stderr) }

func useWriter(ec *embed.Config, level string, w io.Writer) error {
	if level == "" {
		level = DefaultLevel
	}
	lv, err := zapcore.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("etcd log level %q: %w", level, err)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	core := quiet{zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lv)}
	ec.Logger, ec.LogLevel = "zap", level
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(core, zap.AddCaller()))
	return nil
}

// quiet drops etcd's shutdown noise and passes everything else on.
type quiet struct{ zapcore.Core }

// Check adds quiet itself, so that its Write filters the entry.
func (q quiet) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if q.Enabled(e.Level) {
		return ce.AddCore(e, q)
	}
	return ce
}

// With keeps the filter on derived loggers.
func (q quiet) With(fields []zapcore.Field) zapcore.Core { return quiet{q.Core.With(fields)} }

// Write writes e unless it is shutdown noise.
func (q quiet) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if shutdownNoise(e, fields) {
		return nil
	}
	return q.Core.Write(e, fields)
}

// shutdownNoise reports the line etcd logs for each of its listeners when
// they are closed on purpose.
func shutdownNoise(e zapcore.Entry, fields []zapcore.Field) bool {
	if !strings.HasPrefix(e.Message, "setting up serving from embedded etcd failed") {
		return false
	}
	for _, f := range fields {
		if err, ok := f.Interface.(error); ok && f.Key == "error" {
			msg := err.Error()
			return strings.Contains(msg, "closed") // "mux: server closed", "http: Server closed", "use of closed network connection"
		}
	}
	return false
}

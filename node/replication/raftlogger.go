package replication

import (
	"fmt"
	"log/slog"
	"strings"
)

// raftLogger adapts slog to the Raft library's logger, keeping lines at or above a level.
type raftLogger struct {
	l   *slog.Logger
	min slog.Level
	off bool
}

func newRaftLogger(l *slog.Logger, level string) raftLogger {
	r := raftLogger{l: l}
	switch strings.ToLower(level) {
	case "off":
		r.off = true
	case "debug", "trace":
		r.min = slog.LevelDebug
	case "info":
		r.min = slog.LevelInfo
	case "error":
		r.min = slog.LevelError
	default:
		r.min = slog.LevelWarn
	}
	return r
}

func (r raftLogger) emit(level slog.Level, msg string) {
	if !r.off && level >= r.min {
		r.l.Log(nil, level, msg) //nolint:staticcheck // no context here: the library logs without one
	}
}

func (r raftLogger) Debug(v ...any) { r.emit(slog.LevelDebug, fmt.Sprint(v...)) }

func (r raftLogger) Debugf(format string, v ...any) {
	r.emit(slog.LevelDebug, fmt.Sprintf(format, v...))
}

func (r raftLogger) Info(v ...any) { r.emit(slog.LevelInfo, fmt.Sprint(v...)) }

func (r raftLogger) Infof(format string, v ...any) { r.emit(slog.LevelInfo, fmt.Sprintf(format, v...)) }

func (r raftLogger) Warning(v ...any) { r.emit(slog.LevelWarn, fmt.Sprint(v...)) }

func (r raftLogger) Warningf(f string, v ...any) { r.emit(slog.LevelWarn, fmt.Sprintf(f, v...)) }

func (r raftLogger) Error(v ...any) { r.emit(slog.LevelError, fmt.Sprint(v...)) }

func (r raftLogger) Errorf(f string, v ...any) { r.emit(slog.LevelError, fmt.Sprintf(f, v...)) }

func (r raftLogger) Fatal(v ...any) { panic(fmt.Sprint(v...)) }

func (r raftLogger) Fatalf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }

func (r raftLogger) Panic(v ...any) { panic(fmt.Sprint(v...)) }

func (r raftLogger) Panicf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }

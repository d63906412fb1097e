package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/torua/torua/shardmap"
)

// logOptions are the logging flags of the serving commands.
type logOptions struct {
	level string
	file  string
	out   io.Writer // set by logger
}

func (o *logOptions) addFlags(f *pflag.FlagSet, defaultFile string) {
	f.StringVar(&o.level, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.file, "log-file", defaultFile, `where JSON logs go ("-": standard error)`)
}

// logger returns a JSON slog logger and a function that closes its file. o.out is then the
// destination, for libraries with loggers of their own (Raft).
func (o *logOptions) logger() (*slog.Logger, func(), error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.level)); err != nil {
		return nil, nil, fmt.Errorf("--log-level: %w", err)
	}
	var w io.Writer = os.Stderr
	closeFn := func() {}
	if o.file != "" && o.file != "-" {
		f, err := os.OpenFile(o.file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		w, closeFn = f, func() { _ = f.Close() }
	}
	o.out = w
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), closeFn, nil
}

// mapSourceOptions choose where a node or router reads the shard map.
type mapSourceOptions struct {
	file      string
	configMap string
}

func (o *mapSourceOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.file, "shardmap-file", "", "read the shard map from this JSON file (watched for changes)")
	f.StringVar(&o.configMap, "shardmap-configmap", "", "read the shard map from this ConfigMap, as namespace/name (in a Kubernetes cluster)")
}

func (o *mapSourceOptions) source(log *slog.Logger) (shardmap.Source, error) {
	switch {
	case o.file != "" && o.configMap != "":
		return nil, errors.New("give --shardmap-file or --shardmap-configmap, not both")
	case o.file != "":
		return shardmap.NewFile(o.file, log), nil
	case o.configMap != "":
		ns, name, ok := strings.Cut(o.configMap, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("--shardmap-configmap must be namespace/name, got %q", o.configMap)
		}
		cfg, err := ctrl.GetConfig()
		if err != nil {
			return nil, fmt.Errorf("load the Kubernetes client configuration: %w", err)
		}
		return shardmap.NewConfigMapSource(cfg, ns, name, log)
	}
	return nil, errors.New("a shard map source is required: --shardmap-file or --shardmap-configmap")
}

// shutdowner is a server that stops gracefully.
type shutdowner interface {
	Shutdown(ctx context.Context) error
}

// server is a node or a router.
type server interface {
	Start(ctx context.Context) error
	shutdowner
}

// serve sets up logging and the map source, builds the server, starts it and serves until
// SIGINT or SIGTERM.
func serve(logs *logOptions, maps *mapSourceOptions, grace time.Duration, build func(*slog.Logger, shardmap.Source) (server, error)) error {
	log, closeLog, err := logs.logger()
	if err != nil {
		return err
	}
	defer closeLog()
	src, err := maps.source(log)
	if err != nil {
		return err
	}
	s, err := build(log, src)
	if err != nil {
		return err
	}
	if err := s.Start(context.Background()); err != nil {
		return err
	}
	return serveUntilSignal(log, grace, s)
}

// serveUntilSignal waits for SIGINT or SIGTERM, then shuts the servers down in order, each
// with the grace period.
func serveUntilSignal(log *slog.Logger, grace time.Duration, servers ...shutdowner) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("Shutting down", "grace", grace)
	var errs []error
	for _, s := range servers {
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		errs = append(errs, s.Shutdown(sctx))
		cancel()
	}
	return errors.Join(errs...)
}

package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/controllers"
)

func init() { register(newOperatorCmd) }

type operatorOptions struct {
	metricsAddr       string
	probeAddr         string
	leaderElect       bool
	leaderElectionID  string
	leaderElectionNS  string
	nodeStatusTimeout time.Duration
	pollInterval      time.Duration
	logLevel          string
	logFormat         string
}

func newOperatorCmd() *cobra.Command {
	o := &operatorOptions{}
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Run the Kubernetes operator that reconciles ToruaClusters",
		Long: `Run the Torua operator: it reconciles every ToruaCluster (torua.io/v1alpha1) into a
StatefulSet of storage nodes, a router Deployment and the shard map ConfigMap. It finds the
API server like kubectl does (in-cluster config, or --kubeconfig / $KUBECONFIG).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runOperator(o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", `Address the Prometheus metrics endpoint binds to ("0" disables it).`)
	f.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader among operator replicas so only one reconciles at a time.")
	f.StringVar(&o.leaderElectionID, "leader-election-id", "torua-operator.torua.io", "Name of the leader election Lease.")
	f.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the operator's own namespace).")
	f.DurationVar(&o.nodeStatusTimeout, "node-status-timeout", 3*time.Second, "Timeout of each request to a node's /internal endpoints.")
	f.DurationVar(&o.pollInterval, "poll-interval", controllers.DefaultPollInterval, "How often a cluster waiting on its nodes (drain, rolling update) is looked at again.")
	f.StringVar(&o.logLevel, "log-level", "info", "Log level: debug, info, warn or error.")
	f.StringVar(&o.logFormat, "log-format", "json", "Log format: json or text.")
	// --kubeconfig, as controller-runtime's config loader reads it.
	gofs := flag.NewFlagSet("operator", flag.ContinueOnError)
	config.RegisterFlags(gofs)
	f.AddGoFlagSet(gofs)
	return cmd
}

func operatorLogger(o *operatorOptions) (logr.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return logr.Logger{}, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(o.logFormat) {
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	default:
		return logr.Logger{}, fmt.Errorf("--log-format must be json or text, got %q", o.logFormat)
	}
	return logr.FromSlogHandler(h), nil
}

func runOperator(o *operatorOptions) error {
	log, err := operatorLogger(o)
	if err != nil {
		return err
	}
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	setupLog := log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(toruav1alpha1.AddToScheme(scheme))

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("find the Kubernetes API server: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              o.leaderElectionID,
		LeaderElectionNamespace:       o.leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("start manager: %w", err)
	}
	r := &controllers.ToruaClusterReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Scheme:       mgr.GetScheme(),
		Recorder:     mgr.GetEventRecorder("torua-operator"),
		Nodes:        &controllers.HTTPNodeClient{Client: &http.Client{}, Timeout: o.nodeStatusTimeout},
		PollInterval: o.pollInterval,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up ToruaCluster controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("add ready check: %w", err)
	}
	setupLog.Info("Starting operator", "metrics", o.metricsAddr, "probes", o.probeAddr, "leaderElection", o.leaderElect)
	return mgr.Start(ctrl.SetupSignalHandler())
}

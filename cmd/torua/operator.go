package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/controllers"
	"github.com/torua/torua/internal/nodeapi"
)

func init() { register(newOperatorCmd) }

type operatorOptions struct {
	metricsAddr       string
	metricsSecure     bool
	metricsCertPath   string
	metricsCertName   string
	metricsCertKey    string
	enableHTTP2       bool
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
	o.addFlags(cmd.Flags())
	// --kubeconfig, as controller-runtime's config loader reads it.
	gofs := flag.NewFlagSet("operator", flag.ContinueOnError)
	config.RegisterFlags(gofs)
	cmd.Flags().AddGoFlagSet(gofs)
	return cmd
}

func (o *operatorOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443", `Address the Prometheus metrics endpoint binds to ("0" disables it).`)
	f.BoolVar(&o.metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS to authenticated, authorised clients only: a bearer token checked with a TokenReview, "+
		"then a SubjectAccessReview for get on the non-resource URL /metrics. False serves plain HTTP to anyone.")
	f.StringVar(&o.metricsCertPath, "metrics-cert-path", "", "Directory holding the metrics endpoint's certificate and key, reloaded when they change; a self-signed certificate when empty.")
	f.StringVar(&o.metricsCertName, "metrics-cert-name", "tls.crt", "File name of the metrics certificate in --metrics-cert-path.")
	f.StringVar(&o.metricsCertKey, "metrics-cert-key", "tls.key", "File name of the metrics certificate's key in --metrics-cert-path.")
	f.BoolVar(&o.enableHTTP2, "enable-http2", false, "Offer HTTP/2 on the metrics endpoint (off by default: the HTTP/2 Rapid Reset and Stream Cancellation vulnerabilities).")
	f.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader among operator replicas so only one reconciles at a time.")
	f.StringVar(&o.leaderElectionID, "leader-election-id", "torua-operator.torua.io", "Name of the leader election Lease.")
	f.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election Lease (default: $POD_NAMESPACE, else the namespace of the pod's ServiceAccount).")
	f.DurationVar(&o.nodeStatusTimeout, "node-status-timeout", 3*time.Second, "Timeout of each request to a node's /internal endpoints.")
	f.DurationVar(&o.pollInterval, "poll-interval", controllers.DefaultPollInterval, "How often a cluster waiting on its nodes (drain, rolling update) is looked at again.")
	f.StringVar(&o.logLevel, "log-level", "info", "Log level: debug, info, warn or error.")
	f.StringVar(&o.logFormat, "log-format", "json", "Log format: json or text.")
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

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("find the Kubernetes API server: %w", err)
	}
	mgr, err := newOperatorManager(cfg, o)
	if err != nil {
		return err
	}
	log.WithName("setup").Info("Starting operator", "metrics", o.metricsAddr, "metricsSecure", o.metricsSecure,
		"probes", o.probeAddr, "leaderElection", o.leaderElect)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// newOperatorManager builds what `torua operator` runs: a manager with the ToruaCluster
// controller, the health probes and the metrics endpoint, talking to the API server as cfg.
func newOperatorManager(cfg *rest.Config, o *operatorOptions) (ctrl.Manager, error) {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(toruav1alpha1.AddToScheme(scheme))

	metrics, certs, err := metricsServerOptions(o)
	if err != nil {
		return nil, err
	}
	leaderElectionNS := o.leaderElectionNS
	if leaderElectionNS == "" {
		// The chart and config/manager set it from the downward API. Without it,
		// controller-runtime reads the namespace file of the pod's mounted ServiceAccount token,
		// which a pod without one lacks (automountServiceAccountToken: false; test/localkube's
		// pods, which get a kubeconfig instead).
		leaderElectionNS = os.Getenv("POD_NAMESPACE")
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metrics,
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              o.leaderElectionID,
		LeaderElectionNamespace:       leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("start manager: %w", err)
	}
	if certs != nil {
		if err := mgr.Add(certs); err != nil {
			return nil, fmt.Errorf("add metrics certificate watcher: %w", err)
		}
	}
	r := &controllers.ToruaClusterReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Scheme:       mgr.GetScheme(),
		Recorder:     mgr.GetEventRecorder("torua-operator"),
		Nodes:        nodeapi.New(nodeapi.Config{Timeout: o.nodeStatusTimeout}),
		PollInterval: o.pollInterval,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up ToruaCluster controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add ready check: %w", err)
	}
	return mgr, nil
}

// metricsServerOptions configures the metrics endpoint the way kubebuilder's scaffold does. With
// --metrics-secure (the default) it serves HTTPS and lets a request through only when its bearer
// token passes a TokenReview and a SubjectAccessReview allows its user get on /metrics
// (filters.WithAuthenticationAndAuthorization: 401 without a valid token, 403 without the
// permission); the certificate comes from --metrics-cert-path, watched for renewals, or is
// self-signed; HTTP/2 is off unless --enable-http2. The certificate watcher, when there is one,
// must run with the manager.
func metricsServerOptions(o *operatorOptions) (metricsserver.Options, *certwatcher.CertWatcher, error) {
	opts := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.metricsSecure}
	if !o.metricsSecure {
		if o.metricsCertPath != "" {
			return opts, nil, errors.New("--metrics-cert-path needs --metrics-secure")
		}
		return opts, nil, nil
	}
	opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	if !o.enableHTTP2 {
		opts.TLSOpts = append(opts.TLSOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	if o.metricsCertPath == "" {
		return opts, nil, nil
	}
	certs, err := certwatcher.New(filepath.Join(o.metricsCertPath, o.metricsCertName), filepath.Join(o.metricsCertPath, o.metricsCertKey))
	if err != nil {
		return opts, nil, fmt.Errorf("--metrics-cert-path: %w", err)
	}
	opts.TLSOpts = append(opts.TLSOpts, func(c *tls.Config) { c.GetCertificate = certs.GetCertificate })
	return opts, certs, nil
}

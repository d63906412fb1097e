package shardmap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// ConfigMapKey is the key of the shard map document in the ConfigMap the operator publishes.
const ConfigMapKey = "shardmap.json"

// ConfigMapSource is a Source reading the shard map from one named ConfigMap through a
// client-go informer restricted to that object (field selector metadata.name), so a change
// reaches the process within a second, not with the kubelet's volume sync. It needs only
// get, list and watch on that one ConfigMap (RBAC resourceNames).
type ConfigMapSource struct {
	client    kubernetes.Interface
	namespace string
	name      string
	log       *slog.Logger
	// ResyncPeriod is how often the informer re-offers the cached ConfigMap (default 1m). The
	// Holder ignores a map it already has, so a resync costs nothing but a comparison.
	ResyncPeriod time.Duration
}

// NewConfigMapSource returns a Source for ConfigMap namespace/name using cfg.
func NewConfigMapSource(cfg *rest.Config, namespace, name string, log *slog.Logger) (*ConfigMapSource, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("shard map configmap %s/%s: %w", namespace, name, err)
	}
	return NewConfigMapSourceForClient(cs, namespace, name, log)
}

// NewConfigMapSourceForClient is NewConfigMapSource with a ready clientset.
func NewConfigMapSourceForClient(cs kubernetes.Interface, namespace, name string, log *slog.Logger) (*ConfigMapSource, error) {
	if namespace == "" || name == "" {
		return nil, fmt.Errorf("shard map configmap: namespace and name are required, got %q/%q", namespace, name)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ConfigMapSource{client: cs, namespace: namespace, name: name, log: log, ResyncPeriod: time.Minute}, nil
}

func (s *ConfigMapSource) origin() string { return "configmap " + s.namespace + "/" + s.name }

// Reload gets the ConfigMap now and offers its map to h.
func (s *ConfigMapSource) Reload(ctx context.Context, h *Holder) error {
	cm, err := s.client.CoreV1().ConfigMaps(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get shard map %s: %w", s.origin(), err)
	}
	return s.offer(cm, h)
}

// Run watches the ConfigMap until ctx is done, offering every version of it to h. A missing
// ConfigMap or key is not an error: the operator creates it once the first nodes are up.
func (s *ConfigMapSource) Run(ctx context.Context, h *Holder) error {
	factory := informers.NewSharedInformerFactoryWithOptions(s.client, s.ResyncPeriod,
		informers.WithNamespace(s.namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", s.name).String()
		}))
	inf := factory.Core().V1().ConfigMaps().Informer()
	handle := func(obj any) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok || cm.Name != s.name {
			return
		}
		if err := s.offer(cm, h); err != nil && !errors.Is(err, ErrStale) {
			s.log.Warn("Shard map refused", "origin", s.origin(), "err", err)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    handle,
		UpdateFunc: func(_, obj any) { handle(obj) },
		DeleteFunc: func(any) {
			s.log.Warn("Shard map ConfigMap deleted; keeping the map in use", "origin", s.origin())
		},
	}); err != nil {
		return fmt.Errorf("watch shard map %s: %w", s.origin(), err)
	}
	if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			s.log.Error("Cannot watch the shard map ConfigMap", "origin", s.origin(), "err", err)
			return
		}
		s.log.Debug("Shard map watch interrupted", "origin", s.origin(), "err", err)
	}); err != nil {
		return fmt.Errorf("watch shard map %s: %w", s.origin(), err)
	}
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
	return nil
}

func (s *ConfigMapSource) offer(cm *corev1.ConfigMap, h *Holder) error {
	data, ok := cm.Data[ConfigMapKey]
	if !ok {
		s.log.Debug("Shard map ConfigMap has no map yet", "origin", s.origin(), "key", ConfigMapKey)
		return nil
	}
	return h.OfferBytes([]byte(data), s.origin())
}

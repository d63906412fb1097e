//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"sigs.k8s.io/yaml"

	routercl "github.com/torua/torua/router/client"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

const (
	poll = time.Second
	// converge bounds how long the cluster may take to reach a state the operator drives
	// it to (pods start, readiness probes every 5 s, data moves); generous for a busy CI
	// machine, far below the suite's budget.
	converge = 4 * time.Minute
)

var _ = Describe("A ToruaCluster from config/samples", Ordered, ContinueOnFailure, func() {
	var (
		tc      *toruav1alpha1.ToruaCluster // as applied; the live object is read each time
		name    string
		routers *routers
		data    = newLedger()
		budgets = &budgetSummary{}
	)

	BeforeAll(func() {
		raw, err := os.ReadFile(filepath.Join(repoRoot(), "config", "samples", "torua_v1alpha1_toruacluster.yaml"))
		Expect(err).NotTo(HaveOccurred())
		tc = &toruav1alpha1.ToruaCluster{}
		Expect(yaml.UnmarshalStrict(raw, tc)).To(Succeed())
		tc.Namespace = namespace
		tc.Spec.Image = env.Image()
		name = tc.Name
		routers = newRouters(name)
		Expect(tc.Spec.Replicas).To(BeEquivalentTo(3), "the scenarios scale the sample from 3 to 5 and back")
	})

	AfterEach(func(ctx SpecContext) {
		if CurrentSpecReport().Failed() {
			dumpDiagnostics(ctx)
		}
	})

	AfterAll(func() {
		GinkgoWriter.Printf("\nBudget of every scenario (docs/testing.md, \"Budget\"):\n%s\n", budgets.markdown())
	})

	// startScenarioLoad starts the load of one scenario: 4 writers, 4 readers and 4 register
	// clients on one new register key per shard, each paced at 20 operations/s. The clients
	// stop when the scenario ends, whatever happens.
	startScenarioLoad := func(ctx context.Context, scenario string) *load {
		m, err := readShardMap(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		l := startLoad(scenario, routers, data, loadOptions{writers: 4, readers: 4, registers: 4,
			registerKeys: registerKeys(m, scenario), interval: 50 * time.Millisecond})
		DeferCleanup(func() { l.stop() })
		return l
	}

	// readBackAcknowledged reads back every acknowledged write of the suite through the
	// router. Reads that fail (unreachable, 5xx) are retried; a key that is missing or holds
	// another value is lost, and returned (and remembered: keys an earlier scenario lost are
	// reported, not returned again).
	readBackAcknowledged := func(ctx context.Context) map[string]string {
		want := data.snapshot()
		data.mu.Lock()
		earlier := map[string]string{}
		for k, v := range data.lost {
			earlier[k] = v
			delete(want, k)
		}
		data.mu.Unlock()
		By(fmt.Sprintf("reading back all %d acknowledged writes through the router", len(want)))
		var problems map[string]string
		Eventually(func(g Gomega) {
			var errs map[string]string
			problems, errs = readBack(ctx, routers, want)
			g.Expect(errs).To(BeEmpty(), "%d reads failed:\n%s", len(errs), summarize(errs, 10))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		if len(earlier) > 0 {
			stillLost, _ := readBack(ctx, routers, onlyKeys(data.snapshot(), earlier))
			GinkgoWriter.Printf("%d keys lost in earlier scenarios; %d of them still lost\n", len(earlier), len(stillLost))
		}
		data.mu.Lock()
		for k, v := range problems {
			data.lost[k] = v
		}
		data.mu.Unlock()
		return problems
	}

	// finishScenario stops a scenario's load and checks what its clients saw: writes were
	// acknowledged, no read of an acknowledged write returned nothing or another value, the
	// register history (with final reads of every register) is linearizable and lost no
	// acknowledged write, every acknowledged write of the suite reads back, and, unless the
	// scenario is exempt (it takes a quorum away on purpose: exempt says how), the budget
	// held. It prints the scenario's table first and reports every problem at once.
	finishScenario := func(ctx context.Context, l *load, exempt string) {
		rep := l.stop()
		b := &scenarioBudget{scenario: l.name, figures: rep.budget, exempt: exempt, linearizable: "-", history: "no register clients"}
		var problems []string
		if rep.acked == 0 {
			problems = append(problems, "no write was acknowledged during the scenario")
		}
		if len(rep.violations) > 0 {
			problems = append(problems, fmt.Sprintf("reads of acknowledged writes returned nothing or something else:\n  %s",
				strings.Join(first(rep.violations, 20), "\n  ")))
		}
		if len(l.registerKeys) > 0 {
			By(fmt.Sprintf("reading the %d registers and checking their history for linearizability", len(l.registerKeys)))
			fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			final, err := l.finalRegisterReads(fctx, routers)
			cancel()
			if err != nil {
				problems = append(problems, err.Error())
			}
			v := l.history.Check(final, time.Minute)
			b.linearizable = map[porcupine.CheckResult]string{porcupine.Ok: "yes", porcupine.Illegal: "NO", porcupine.Unknown: "unknown (the check timed out)"}[v.Result]
			b.history = v.Summary
			b.lost += len(v.Lost)
			for _, c := range v.Contract {
				problems = append(problems, "API contract broken: "+c)
			}
			for _, lost := range v.Lost {
				problems = append(problems, "acknowledged register write lost: "+lost)
			}
			if !v.OK() {
				dir, err := os.MkdirTemp("", "torua-e2e-"+l.name+"-")
				if err == nil {
					var vis, hist string
					vis, hist, err = l.history.WriteArtefacts(v, dir)
					problems = append(problems, fmt.Sprintf("register history: %s (%s); visualisation %s, history %s", v.Result, v.Summary, vis, hist))
				}
				if err != nil {
					problems = append(problems, fmt.Sprintf("register history: %s (%s); artefacts: %v", v.Result, v.Summary, err))
				}
			}
		}
		lost := readBackAcknowledged(ctx)
		b.lost += len(lost)
		if len(lost) > 0 {
			problems = append(problems, fmt.Sprintf("%d acknowledged writes are lost or wrong:\n%s", len(lost), summarize(lost, 20)))
		}
		problems = append(problems, b.withinBudget()...)
		budgets.add(b)
		GinkgoWriter.Println(rep.String())
		GinkgoWriter.Println(b.table())
		Expect(problems).To(BeEmpty(), "scenario %q:\n%s", l.name, b.table())
	}

	// expectConverged waits until the cluster has n ready nodes, all active in the map, and
	// the operator reports it Available, converged, balanced and not degraded.
	expectConverged := func(ctx context.Context, n int) *shardmap.Map {
		var m *shardmap.Map
		Eventually(func(g Gomega) {
			cur, err := getCluster(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			s := conditionSummary(cur)
			g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation), s)
			g.Expect(cur.Status.ReadyNodes).To(BeEquivalentTo(n), s)
			g.Expect(cur.Status.Replicas).To(BeEquivalentTo(n), s)
			g.Expect(conditionIs(cur, toruav1alpha1.ConditionAvailable, metav1.ConditionTrue)).To(BeTrue(), s)
			g.Expect(conditionIs(cur, toruav1alpha1.ConditionProgressing, metav1.ConditionFalse)).To(BeTrue(), s)
			g.Expect(conditionIs(cur, toruav1alpha1.ConditionRebalancing, metav1.ConditionFalse)).To(BeTrue(), s)
			g.Expect(conditionIs(cur, toruav1alpha1.ConditionDegraded, metav1.ConditionFalse)).To(BeTrue(), s)
			m, err = readShardMap(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(m.Nodes).To(HaveLen(n))
			for _, node := range m.Nodes {
				g.Expect(node.State).To(Equal(shardmap.NodeActive), "node %s", node.ID)
			}
			g.Expect(cur.Status.ShardMapVersion).To(BeEquivalentTo(m.Version), s)
		}).WithContext(ctx).WithTimeout(converge).WithPolling(poll).Should(Succeed())
		return m
	}

	// expectBalanced checks the map's placement: every shard has replicationFactor
	// distinct replicas and replica counts per node differ by at most one.
	expectBalanced := func(m *shardmap.Map) {
		Expect(m.Assignments).To(HaveLen(int(tc.Spec.Shards)))
		for _, a := range m.Assignments {
			Expect(a.Replicas).To(HaveLen(m.ReplicationFactor), "shard %d", a.Shard)
			Expect(slices.Compact(slices.Sorted(slices.Values(a.Replicas)))).To(HaveLen(len(a.Replicas)), "shard %d replicas %v", a.Shard, a.Replicas)
		}
		counts := replicaCounts(m)
		lo, hi := int(^uint(0)>>1), 0
		for _, c := range counts {
			lo, hi = min(lo, c), max(hi, c)
		}
		Expect(hi-lo).To(BeNumerically("<=", 1), "replicas per node: %v", counts)
	}

	// expectNodesHostTheirReplicas waits until every node of the map hosts exactly the
	// replicas the map gives it, and every shard group it reports counts exactly the map's
	// replicas as members: data has finished moving.
	expectNodesHostTheirReplicas := func(ctx context.Context) {
		Eventually(func(g Gomega) {
			m, err := readShardMap(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			var summary []string
			for _, n := range m.Nodes {
				st, err := nodeStatus(ctx, n.API)
				g.Expect(err).NotTo(HaveOccurred(), "node %s", n.ID)
				leaders, groups := 0, 0
				for _, s := range st.Shards {
					if s.Role == "leader" {
						leaders++
					}
					if len(s.Voters)+len(s.Learners) > 0 {
						groups++
					}
				}
				summary = append(summary, fmt.Sprintf("%s: %d shards (map: %d), leads %d, group members reported for %d",
					n.ID, len(st.Shards), len(m.ShardsOf(n.ID)), leaders, groups))
				g.Expect(st.MapVersion).To(Equal(m.Version), "node %s", n.ID)
				for _, s := range st.Shards {
					if len(s.Voters)+len(s.Learners) > 0 {
						g.Expect(slices.Concat(s.Voters, s.Learners)).To(ConsistOf(replicasOf(m, s.Shard)),
							"shard %d's group as %s reports it, against the map", s.Shard, n.ID)
					}
				}
				g.Expect(hostedShards(st)).To(ConsistOf(m.ShardsOf(n.ID)), "shards node %s hosts, against the map", n.ID)
			}
			GinkgoWriter.Printf("Map v%d hosted as placed:\n  %s\n", m.Version, strings.Join(summary, "\n  "))
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(poll).Should(Succeed())
	}

	setSpec := func(ctx context.Context, mutate func(*toruav1alpha1.ToruaCluster)) {
		Eventually(func(g Gomega) {
			cur, err := getCluster(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			patch := client.MergeFromWithOptions(cur.DeepCopy(), client.MergeFromWithOptimisticLock{})
			mutate(cur)
			g.Expect(k8s.Patch(ctx, cur, patch)).To(Succeed())
		}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(poll).Should(Succeed())
	}

	// waitForMoment polls, about every 20 ms, until find (which fails through g while the
	// moment has not come) describes the moment; it returns that description.
	waitForMoment := func(ctx context.Context, what string, find func(g Gomega) string) string {
		By("waiting for the moment when " + what)
		var moment string
		Eventually(func(g Gomega) { moment = find(g) }).WithContext(ctx).WithTimeout(2*time.Minute).WithPolling(20*time.Millisecond).
			Should(Succeed(), "the moment when %s never came", what)
		GinkgoWriter.Printf("%s %s\n", time.Now().Format("15:04:05.000"), moment)
		return moment
	}

	// learnerOn finds a shard being moved onto one of nodes: its leader counts the node as a
	// learner.
	learnerOn := func(ctx context.Context, nodes ...string) func(g Gomega) string {
		return func(g Gomega) string {
			m, err := readShardMap(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			for _, n := range nodes {
				if d, ok := replicaMoving(ctx, m, n, true); ok {
					return d
				}
			}
			g.Expect(nodes).To(BeEmpty(), "no shard's leader counts any of them as a learner (map v%d)", m.Version)
			return ""
		}
	}

	// assignedTo finds the moment the map gives node replicas, which starts moving them onto
	// it, and says whether a shard's leader does not count node as a voter yet (not added, or a
	// learner): the moves are then under way. Small shards move in the few milliseconds a
	// snapshot takes, which a poll of leaders' learners can miss altogether; the map's
	// assignment cannot be missed, and the moves it starts are under way or just done.
	assignedTo := func(ctx context.Context, node string) func(g Gomega) string {
		return func(g Gomega) string {
			m, err := readShardMap(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			var assigned []int
			for shard := range m.Shards {
				if slices.Contains(m.Replicas(shard), node) {
					assigned = append(assigned, shard)
				}
			}
			g.Expect(assigned).NotTo(BeEmpty(), "map v%d gives %s no replica yet", m.Version, node)
			sts := allStatuses(ctx, m)
			for _, shard := range assigned {
				for id, st := range sts {
					for _, s := range st.Shards {
						if s.Shard == shard && s.Role == "leader" && !slices.Contains(s.Voters, node) {
							return fmt.Sprintf("map v%d gives %s a replica of shard %d, whose leader %s counts it as no voter yet (voters %v, learners %v)",
								m.Version, node, shard, id, s.Voters, s.Learners)
						}
					}
				}
			}
			return fmt.Sprintf("map v%d gives %s replicas of shards %v, and every leader counts it a voter already (the moves took less than a poll)",
				m.Version, node, assigned)
		}
	}

	// movingOff finds a shard being moved off node: the map marks node draining and a shard's
	// leader still counts it as a member of its group.
	movingOff := func(ctx context.Context, node string) func(g Gomega) string {
		return func(g Gomega) string {
			m, err := readShardMap(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			n, ok := m.Node(node)
			g.Expect(ok).To(BeTrue(), "%s is in the map (v%d)", node, m.Version)
			g.Expect(n.State).To(Equal(shardmap.NodeDraining), "%s's state in map v%d", node, m.Version)
			d, ok := replicaMoving(ctx, m, node, false)
			g.Expect(ok).To(BeTrue(), "no shard's leader counts %s as a member any more (map v%d)", node, m.Version)
			return fmt.Sprintf("the map marks %s draining and %s", node, d)
		}
	}

	// expectDrainedBeforeShrink checks, from watches of the node StatefulSet and the shard map
	// during a scale-down to size, that the StatefulSet shrank to size once and only after a
	// map had marked every leaving node that was in it draining and given it no replica.
	// NB: resourceVersions are etcd revisions, one sequence for all objects: they order the
	// map's versions against the StatefulSet's shrink exactly.
	expectDrainedBeforeShrink := func(stsEvents, mapEvents []observed, leaving []string, size int32) {
		shrinkRV, larger := uint64(0), false
		for _, ev := range stsEvents {
			s := ev.obj.(*appsv1.StatefulSet)
			if r := ptr.Deref(s.Spec.Replicas, 0); r > size {
				larger = true
			} else if larger && r == size {
				shrinkRV = resourceVersion(s)
				break
			}
		}
		Expect(shrinkRV).NotTo(BeZero(), "the StatefulSet was seen shrinking to %d", size)
		var before *shardmap.Map
		for _, ev := range mapEvents {
			cm := ev.obj.(*corev1.ConfigMap)
			if resourceVersion(cm) >= shrinkRV {
				break
			}
			mm, err := shardMapOf(cm)
			Expect(err).NotTo(HaveOccurred())
			before = mm
		}
		Expect(before).NotTo(BeNil(), "a shard map was published before the StatefulSet shrank")
		counts := replicaCounts(before)
		GinkgoWriter.Printf("Map v%d was the last before the StatefulSet shrank to %d (resourceVersion %d): replicas per node %v\n",
			before.Version, size, shrinkRV, counts)
		for _, id := range leaving {
			n, ok := before.Node(id)
			if !ok {
				continue // it never joined
			}
			Expect(n.State).To(Equal(shardmap.NodeDraining), "%s's state in map v%d, the last before the StatefulSet shrank", id, before.Version)
			Expect(counts[id]).To(BeZero(), "%s held no replica in the map (v%d) when the StatefulSet shrank", id, before.Version)
		}
	}

	// expectRemoved waits until the leaving nodes are out of the map and their pods and
	// claims are gone (a scale-down deletes drained nodes' claims), and checks that the
	// remaining nodes' claims are still there.
	expectRemoved := func(ctx context.Context, leaving []string, remaining int) {
		m, err := readShardMap(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		for _, id := range leaving {
			_, ok := m.Node(id)
			Expect(ok).To(BeFalse(), "%s was pruned from the shard map", id)
			Eventually(func() error {
				return k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: id}, &corev1.Pod{})
			}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(poll).Should(Satisfy(apierrors.IsNotFound), "pod %s removed", id)
			Eventually(func() error {
				return k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "data-" + id}, &corev1.PersistentVolumeClaim{})
			}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(poll).Should(Satisfy(apierrors.IsNotFound), "claim data-%s deleted", id)
		}
		for i := range remaining {
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fmt.Sprintf("data-%s-node-%d", name, i)}, &corev1.PersistentVolumeClaim{})).To(Succeed())
		}
	}

	// expectRebalanced checks a watch of the ToruaCluster: Rebalancing was True (with reason,
	// if not "") at some point and ends False.
	expectRebalanced := func(clusters *timeline, reason string) {
		events, err := clusters.stop()
		Expect(err).NotTo(HaveOccurred())
		history := conditionHistory(events, toruav1alpha1.ConditionRebalancing)
		GinkgoWriter.Printf("Rebalancing: %v\nAvailable: %v\nProgressing: %v\n", history,
			conditionHistory(events, toruav1alpha1.ConditionAvailable), conditionHistory(events, toruav1alpha1.ConditionProgressing))
		Expect(history).To(ContainElement(HavePrefix("True/"+reason)), "Rebalancing was never True/%s while replicas moved: %v", reason, history)
		Expect(history[len(history)-1]).To(HavePrefix("False/"))
	}

	// expectRolledOut waits until the node StatefulSet's update revision is current on every
	// pod of nodes: each is a new pod (not initial's), ready, and passes updated.
	expectRolledOut := func(ctx context.Context, nodes []string, initial map[string]*corev1.Pod, updated func(Gomega, *corev1.Pod)) {
		Eventually(func(g Gomega) {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name + "-node"}, sts)).To(Succeed())
			g.Expect(sts.Status.UpdatedReplicas).To(BeEquivalentTo(len(nodes)), "%+v", sts.Status)
			g.Expect(sts.Status.CurrentRevision).To(Equal(sts.Status.UpdateRevision), "%+v", sts.Status)
			for _, id := range nodes {
				p := &corev1.Pod{}
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: id}, p)).To(Succeed())
				g.Expect(p.UID).NotTo(Equal(initial[id].UID), "%s restarted", id)
				updated(g, p)
				g.Expect(isPodReady(p)).To(BeTrue(), "%s ready", id)
			}
		}).WithContext(ctx).WithTimeout(converge).WithPolling(poll).Should(Succeed())
	}

	// shrinkWatch records, for a scenario that ends in a scale-down to 3, the ToruaCluster,
	// the node StatefulSet and the shard map ConfigMap.
	type shrinkWatch struct{ clusters, sets, maps *timeline }
	watchShrink := func() shrinkWatch {
		w := shrinkWatch{
			clusters: record(&toruav1alpha1.ToruaClusterList{}),
			sets:     record(&appsv1.StatefulSetList{}, client.MatchingFields{"metadata.name": name + "-node"}),
			maps:     record(&corev1.ConfigMapList{}, client.MatchingFields{"metadata.name": name + "-shardmap"}),
		}
		DeferCleanup(func() { _, _ = w.clusters.stop(); _, _ = w.sets.stop(); _, _ = w.maps.stop() })
		return w
	}

	// expectShrunkTo3 waits until the cluster has converged on 3 nodes without removed (pods
	// and claims gone, every node hosting its replicas), finishes the scenario's load, and
	// checks from w that removed were drained before the StatefulSet shrank and that
	// Rebalancing was True (with reason, if not empty) and ended False.
	expectShrunkTo3 := func(ctx context.Context, l *load, w shrinkWatch, removed []string, reason string) {
		m := expectConverged(ctx, 3)
		expectBalanced(m)
		expectRemoved(ctx, removed, 3)
		expectNodesHostTheirReplicas(ctx)
		finishScenario(ctx, l, "")

		By(fmt.Sprintf("checking %v were drained before the StatefulSet shrank", removed))
		stsEvents, err := w.sets.stop()
		Expect(err).NotTo(HaveOccurred())
		mapEvents, err := w.maps.stop()
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("StatefulSet sizes: %v\n", sizeHistory(stsEvents))
		expectDrainedBeforeShrink(stsEvents, mapEvents, removed, 3)
		expectRebalanced(w.clusters, reason)
	}

	// nodePods reads the node pods 0..n-1, which must be ready.
	nodePods := func(ctx context.Context, n int) map[string]*corev1.Pod {
		pods := map[string]*corev1.Pod{}
		for i := range n {
			p := &corev1.Pod{}
			id := fmt.Sprintf("%s-node-%d", name, i)
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: id}, p)).To(Succeed())
			Expect(isPodReady(p)).To(BeTrue(), "%s ready", id)
			pods[id] = p
		}
		return pods
	}

	It("becomes Available and takes 1,000 keys through the router", func(ctx SpecContext) {
		By("applying config/samples")
		Expect(k8s.Create(ctx, tc.DeepCopy())).To(Succeed())
		m := expectConverged(ctx, 3)
		Expect(m.Shards).To(BeEquivalentTo(tc.Spec.Shards))
		Expect(m.ReplicationFactor).To(BeEquivalentTo(tc.Spec.ReplicationFactor))
		expectBalanced(m)

		By("writing 1,000 keys with 10 concurrent clients while 4 others read them back")
		l := startLoad("initial", routers, data, loadOptions{writers: 10, readers: 4, keys: 1000})
		DeferCleanup(func() { l.stop() })
		rep := l.wait()
		Expect(data.count("initial/")).To(Equal(1000), "acknowledged writes of 1,000 keys:\n%s", rep)
		finishScenario(ctx, l, "")

		By("listing the keys through the router (scatter-gather over every node)")
		c, err := routers.pick(ctx)
		Expect(err).NotTo(HaveOccurred())
		var listed []string
		for k, err := range c.ListAll(ctx, "initial/", 250) {
			Expect(err).NotTo(HaveOccurred())
			listed = append(listed, k)
		}
		Expect(listed).To(HaveLen(1000))
		Expect(slices.IsSorted(listed)).To(BeTrue(), "listing is sorted")

		By("building a graph through the router and querying it (docs/graph.md)")
		_, err = c.Query(ctx, graphName, `CREATE CONSTRAINT FOR (p:Person) REQUIRE p.id IS UNIQUE`, nil)
		Expect(err).NotTo(HaveOccurred())
		_, err = c.Query(ctx, graphName, `UNWIND range(1, 100) AS i CREATE (:Person {id: i})`, nil)
		Expect(err).NotTo(HaveOccurred())
		_, err = c.Query(ctx, graphName, `MATCH (a:Person), (b:Person) WHERE b.id = a.id % 100 + 1 CREATE (a)-[:NEXT]->(b)`, nil)
		Expect(err).NotTo(HaveOccurred())
		expectGraph(ctx, c, graphName)

		By("bulk-loading the same ring into a new graph through the router (its spool is an emptyDir: the root filesystem is read-only)")
		var body strings.Builder
		body.WriteString(`{"keys": {"Person": "id"}, "vertices": [`)
		for i := 1; i <= 100; i++ {
			if i > 1 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, `{"labels": ["Person"], "properties": {"id": %d}}`, i)
		}
		body.WriteString("]}\n{\"edges\": [")
		for i := 1; i <= 100; i++ {
			if i > 1 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, `{"type": "NEXT", "from": {"label": "Person", "key": %d}, "to": {"label": "Person", "key": %d}}`, i, i%100+1)
		}
		body.WriteString("]}")
		res, err := c.BulkLoad(ctx, bulkGraphName, strings.NewReader(body.String()))
		Expect(err).NotTo(HaveOccurred())
		Expect([]int{res.Vertices, res.Edges}).To(Equal([]int{100, 100}))
		expectGraph(ctx, c, bulkGraphName)
	}, SpecTimeout(8*time.Minute))

	It("shows its printer columns to `kubectl get toruacluster` (a Table request)", func(ctx SpecContext) {
		table := getTable(ctx, "/apis/torua.io/v1alpha1/namespaces/"+namespace+"/toruaclusters")
		var columns, wide []string
		for _, c := range table.ColumnDefinitions {
			if c.Priority == 0 {
				columns = append(columns, c.Name)
			} else {
				wide = append(wide, c.Name)
			}
		}
		Expect(columns).To(Equal([]string{"Name", "Nodes", "Ready", "Shards", "RF", "Available", "Age"}))
		Expect(wide).To(Equal([]string{"Map"}), "columns shown with -o wide")
		Expect(table.Rows).To(HaveLen(1))
		cell := map[string]any{}
		for i, c := range table.ColumnDefinitions {
			cell[c.Name] = table.Rows[0].Cells[i]
		}
		cur, err := getCluster(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		Expect(cell).To(HaveKeyWithValue("Name", name))
		Expect(cell).To(HaveKeyWithValue("Nodes", BeEquivalentTo(3)))
		Expect(cell).To(HaveKeyWithValue("Ready", BeEquivalentTo(3)))
		Expect(cell).To(HaveKeyWithValue("Shards", BeEquivalentTo(tc.Spec.Shards)))
		Expect(cell).To(HaveKeyWithValue("RF", BeEquivalentTo(tc.Spec.ReplicationFactor)))
		Expect(cell).To(HaveKeyWithValue("Map", BeEquivalentTo(cur.Status.ShardMapVersion)))
		Expect(cell).To(HaveKeyWithValue("Available", "True"))
		Expect(cell).To(HaveKeyWithValue("Age", MatchRegexp(`^[0-9]+[smhd]`)))
	}, SpecTimeout(time.Minute))

	It("recreates a deleted node pod, which rejoins with its data", func(ctx SpecContext) {
		before, err := readShardMap(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		// The victim is the node holding the most keys: the restart must bring them back.
		victim, victimKeys := "", []string(nil)
		for _, n := range before.Nodes {
			keys, err := nodeKeys(ctx, n.API)
			Expect(err).NotTo(HaveOccurred(), "list the keys of %s", n.ID)
			if len(keys) > len(victimKeys) {
				victim, victimKeys = n.ID, keys
			}
		}
		Expect(victimKeys).NotTo(BeEmpty(), "some node holds keys")
		victimNode, _ := before.Node(victim)
		st, err := nodeStatus(ctx, victimNode.API)
		Expect(err).NotTo(HaveOccurred())
		hostedBefore := hostedShards(st)
		old := &corev1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: victim}, old)).To(Succeed())
		l := startScenarioLoad(ctx, "pod-delete")

		By(fmt.Sprintf("deleting pod %s, which holds %d keys", victim, len(victimKeys)))
		Expect(k8s.Delete(ctx, old)).To(Succeed())
		Eventually(func(g Gomega) {
			p := &corev1.Pod{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(old), p)).To(Succeed())
			g.Expect(p.UID).NotTo(Equal(old.UID), "the StatefulSet recreated the pod")
			g.Expect(isPodReady(p)).To(BeTrue(), "the new pod is ready")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(poll).Should(Succeed())

		By("checking it rejoined on its volume: same shard map member, every key it held")
		after := expectConverged(ctx, 3)
		var ids []string
		for _, n := range after.Nodes {
			ids = append(ids, n.ID)
		}
		Expect(ids).To(ConsistOf(nodeIDs(before)), "membership unchanged")
		Expect(after.Assignments).To(Equal(before.Assignments), "no replica moved: a restarting member keeps its replicas")
		Eventually(func(g Gomega) {
			m, err := readShardMap(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			n, _ := m.Node(victim)
			keys, err := nodeKeys(ctx, n.API)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(keys).To(ContainElements(victimKeys), "%s holds every key it held before", victim)
			st, err := nodeStatus(ctx, n.API)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(hostedShards(st)).To(Equal(hostedBefore), "%s hosts the shards it hosted before", victim)
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(poll).Should(Succeed())
		finishScenario(ctx, l, "")
	}, SpecTimeout(8*time.Minute))

	It("rolls out a new image one pod at a time, highest ordinal first, moving leadership off each before it stops", func(ctx SpecContext) {
		nodes := []string{name + "-node-0", name + "-node-1", name + "-node-2"}
		initial := map[string]*corev1.Pod{}
		for _, id := range nodes {
			p := &corev1.Pod{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: id}, p)).To(Succeed())
			Expect(isPodReady(p)).To(BeTrue(), "%s ready before the update", id)
			initial[id] = p
		}
		pods := record(&corev1.PodList{}, client.MatchingLabels{"app.kubernetes.io/instance": name, "app.kubernetes.io/component": "node"})
		DeferCleanup(func() { _, _ = pods.stop() })
		start := time.Now()
		handoffsBefore, _ := env.Handoffs()
		l := startScenarioLoad(ctx, "rolling-update")

		By("changing spec.image to " + env.RestartImage())
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.Image = env.RestartImage() })
		expectRolledOut(ctx, nodes, initial, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Spec.Containers[0].Image).To(Equal(env.RestartImage()))
		})
		expectConverged(ctx, 3)
		finishScenario(ctx, l, "")

		By("checking the pods went one at a time, highest ordinal first")
		podEvents, err := pods.stop()
		Expect(err).NotTo(HaveOccurred())
		ro := observeRollout(podEvents, name, nodes, initial)
		stopped := ro.stopped
		GinkgoWriter.Printf("Old node pods stopped in the order %v; at most %d node pods unavailable at once (%s)\n", ro.order, ro.maxDown, ro.downAt)
		Expect(ro.order).To(Equal([]string{nodes[2], nodes[1], nodes[0]}), "order in which the old pods stopped")
		Expect(ro.maxDown).To(BeNumerically("<=", 1), "node pods unavailable at once (at %s)", ro.downAt)

		By("checking each node handed off its leaderships before it was let stop")
		var restarted []string
		events, err := kube.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		for _, e := range events.Items {
			if e.Reason == toruav1alpha1.ReasonNodeRestarted && !eventTime(e).Before(start.Truncate(time.Second)) {
				restarted = append(restarted, e.Message)
			}
		}
		for _, id := range nodes {
			Expect(restarted).To(ContainElement(ContainSubstring(id+" ")), "a %s event lets %s restart (only after a 2xx hand-off)", toruav1alpha1.ReasonNodeRestarted, id)
		}
		all, ok := env.Handoffs()
		if !ok {
			GinkgoWriter.Println("The operator runs in a pod here: its hand-offs are checked by their events only.")
			return
		}
		handoffs := all[len(handoffsBefore):]
		for _, id := range nodes {
			var last *handoff
			for i := range handoffs {
				if h := &handoffs[i]; h.node == id && h.at.Before(stopped[id]) {
					last = h
				}
			}
			Expect(last).NotTo(BeNil(), "the operator asked %s to hand off its leaderships before it stopped", id)
			Expect(last.err).NotTo(HaveOccurred(), "read %s's status right after its hand-off", id)
			Expect(last.leaders).To(BeEmpty(), "shards %s still led right after its hand-off, just before it was let stop", id)
			GinkgoWriter.Printf("%s handed off at %s, leading nothing; seen stopping at %s\n", id,
				last.at.Format("15:04:05.000"), stopped[id].Format("15:04:05.000"))
		}
	}, SpecTimeout(10*time.Minute))

	It("rolls out a changed pod template with the operator killed and restarted half-way: each pod restarts once, the partition steps down one by one", func(ctx SpecContext) {
		nodes := []string{name + "-node-0", name + "-node-1", name + "-node-2"}
		initial := nodePods(ctx, 3)
		pods := record(&corev1.PodList{}, client.MatchingLabels{"app.kubernetes.io/instance": name, "app.kubernetes.io/component": "node"})
		sets := record(&appsv1.StatefulSetList{}, client.MatchingFields{"metadata.name": name + "-node"})
		DeferCleanup(func() { _, _ = pods.stop(); _, _ = sets.stop() })
		l := startScenarioLoad(ctx, "rolling-update-operator-restart")

		By("adding a pod template annotation (spec.podTemplate.annotations)")
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) {
			if c.Spec.PodTemplate.Annotations == nil {
				c.Spec.PodTemplate.Annotations = map[string]string{}
			}
			c.Spec.PodTemplate.Annotations["e2e.torua.io/rollout"] = "operator-restart"
		})
		moment := waitForMoment(ctx, "the operator has let "+nodes[1]+" restart (partition 1)", func(g Gomega) string {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name + "-node"}, sts)).To(Succeed())
			ru := sts.Spec.UpdateStrategy.RollingUpdate
			g.Expect(ru).NotTo(BeNil())
			g.Expect(ptr.Deref(ru.Partition, 0)).To(BeEquivalentTo(1))
			return fmt.Sprintf("the StatefulSet's partition is 1 (resourceVersion %s)", sts.ResourceVersion)
		})
		By("killing the operator (" + moment + ") and starting a new one")
		Expect(env.RestartOperator(ctx)).To(Succeed())

		expectRolledOut(ctx, nodes, initial, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Annotations).To(HaveKeyWithValue("e2e.torua.io/rollout", "operator-restart"))
		})
		expectConverged(ctx, 3)
		finishScenario(ctx, l, "")

		By("checking no step was taken twice or skipped: partitions 3, 2, 1, 0; each pod restarted exactly once, one at a time")
		stsEvents, err := sets.stop()
		Expect(err).NotTo(HaveOccurred())
		partitions := partitionHistory(stsEvents)
		GinkgoWriter.Printf("Partitions: %v\n", partitions)
		Expect(partitions).To(Equal([]int32{0, 3, 2, 1, 0}), "the StatefulSet's successive partitions")
		podEvents, err := pods.stop()
		Expect(err).NotTo(HaveOccurred())
		incarnations := podIncarnations(podEvents)
		for _, id := range nodes {
			Expect(incarnations[id]).To(HaveLen(2), "pods named %s seen (UIDs): the initial one and one restart", id)
		}
		ro := observeRollout(podEvents, name, nodes, initial)
		GinkgoWriter.Printf("Old node pods stopped in the order %v; at most %d node pods unavailable at once (%s)\n", ro.order, ro.maxDown, ro.downAt)
		Expect(ro.order).To(Equal([]string{nodes[2], nodes[1], nodes[0]}), "order in which the old pods stopped")
		Expect(ro.maxDown).To(BeNumerically("<=", 1), "node pods unavailable at once (at %s)", ro.downAt)
	}, SpecTimeout(10*time.Minute))

	It("scales from 3 to 5 with a joining node killed (pod force-deleted) while a shard moves onto it: it comes back, the moves complete, placement balances", func(ctx SpecContext) {
		clusters := record(&toruav1alpha1.ToruaClusterList{})
		DeferCleanup(func() { _, _ = clusters.stop() })
		l := startScenarioLoad(ctx, "scale-up-kill-joining")
		victim := name + "-node-4"

		By("setting spec.replicas to 5")
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.Replicas = 5 })
		moment := waitForMoment(ctx, "a shard is moving onto "+victim, learnerOn(ctx, victim))
		By("force-deleting pod " + victim + " (grace period 0: SIGKILL) while " + moment)
		old := forceDeletePod(ctx, victim)
		Eventually(func(g Gomega) {
			p := &corev1.Pod{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(old), p)).To(Succeed())
			g.Expect(p.UID).NotTo(Equal(old.UID), "the StatefulSet recreated the pod")
			g.Expect(isPodReady(p)).To(BeTrue(), "the new pod is ready")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(poll).Should(Succeed())

		m := expectConverged(ctx, 5)
		for _, id := range []string{name + "-node-3", victim} {
			n, ok := m.Node(id)
			Expect(ok).To(BeTrue(), "%s joined the shard map", id)
			Expect(n.State).To(Equal(shardmap.NodeActive))
		}
		expectBalanced(m)
		expectNodesHostTheirReplicas(ctx)
		finishScenario(ctx, l, "")
		expectRebalanced(clusters, "")
	}, SpecTimeout(10*time.Minute))

	It("moves a frozen node's replicas to the others after spec.nodeDownTimeout, and gives it replicas again once it thaws", func(ctx SpecContext) {
		victim := name + "-node-2"
		pod := &corev1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: victim}, pod)).To(Succeed())
		if err := env.FreezePod(ctx, pod, false); errors.Is(err, errFreezeUnsupported) {
			Skip(err.Error())
		}
		start := time.Now()
		By("setting spec.nodeDownTimeout to 15s")
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) {
			c.Spec.NodeDownTimeout = &metav1.Duration{Duration: 15 * time.Second}
		})
		DeferCleanup(func(ctx SpecContext) {
			setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.NodeDownTimeout = nil })
		})
		l := startScenarioLoad(ctx, "node-down")

		By("freezing pod " + victim + " (SIGSTOP), as a hung machine")
		Expect(env.FreezePod(ctx, pod, true)).To(Succeed())
		thawed := false
		DeferCleanup(func(ctx SpecContext) {
			if !thawed {
				_ = env.FreezePod(ctx, pod, false)
			}
		})
		By("waiting for the operator to report it down and move its replicas to the other four")
		Eventually(func(g Gomega) {
			cur, err := getCluster(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(conditionReason(cur, toruav1alpha1.ConditionDegraded)).To(Equal(toruav1alpha1.ReasonNodeDown), conditionSummary(cur))
			m, err := readShardMap(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			n, ok := m.Node(victim)
			g.Expect(ok).To(BeTrue(), "%s stays in the map", victim)
			g.Expect(n.State).To(Equal(shardmap.NodeDraining), "%s is draining in map v%d", victim, m.Version)
			g.Expect(m.ShardsOf(victim)).To(BeEmpty())
			// Its replicas are rebuilt elsewhere while it is still down: every shard's leader
			// counts the map's replicas, on ready nodes, as its voters.
			g.Expect(cur.Status.UnderReplicatedShards).To(BeZero(), conditionSummary(cur))
			for _, other := range m.Nodes {
				if other.ID == victim {
					continue
				}
				st, err := nodeStatus(ctx, other.API)
				g.Expect(err).NotTo(HaveOccurred())
				for _, s := range st.Shards {
					if s.Role == "leader" {
						g.Expect(s.Voters).To(ConsistOf(replicasOf(m, s.Shard)), "shard %d led by %s", s.Shard, other.ID)
						g.Expect(s.Learners).To(BeEmpty(), "shard %d led by %s", s.Shard, other.ID)
					}
				}
			}
			sts := &appsv1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name + "-node"}, sts)).To(Succeed())
			g.Expect(ptr.Deref(sts.Spec.Replicas, 0)).To(BeEquivalentTo(5), "a down node is no scale-down")
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "data-" + victim}, &corev1.PersistentVolumeClaim{})).To(Succeed(), "its volume stays")
		}).WithContext(ctx).WithTimeout(converge).WithPolling(poll).Should(Succeed())
		Expect(eventsSince(ctx, start, toruav1alpha1.ReasonNodeDown)).To(ContainElement(ContainSubstring(victim)), "a %s event names %s", toruav1alpha1.ReasonNodeDown, victim)

		By("thawing " + victim + ": it becomes active again and placement gives it replicas")
		Expect(env.FreezePod(ctx, pod, false)).To(Succeed())
		thawed = true
		m := expectConverged(ctx, 5)
		Expect(m.ShardsOf(victim)).NotTo(BeEmpty())
		expectBalanced(m)
		expectNodesHostTheirReplicas(ctx)
		Expect(eventsSince(ctx, start, toruav1alpha1.ReasonNodeRecovered)).To(ContainElement(ContainSubstring(victim)), "a %s event names %s", toruav1alpha1.ReasonNodeRecovered, victim)
		finishScenario(ctx, l, "")
	}, SpecTimeout(10*time.Minute))

	It("raises the replication factor from 3 to 5 and lowers it back under load: every shard's group follows, nothing is lost", func(ctx SpecContext) {
		l := startScenarioLoad(ctx, "replication-factor")
		for _, rf := range []int32{5, 3} {
			By(fmt.Sprintf("setting spec.replicationFactor to %d", rf))
			setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.ReplicationFactor = rf })
			Eventually(func(g Gomega) {
				m, err := readShardMap(ctx, name)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(m.ReplicationFactor).To(BeEquivalentTo(rf))
			}).WithContext(ctx).WithTimeout(converge).WithPolling(poll).Should(Succeed())
			m := expectConverged(ctx, 5)
			Expect(m.ReplicationFactor).To(BeEquivalentTo(rf))
			expectBalanced(m)
			expectNodesHostTheirReplicas(ctx)
		}
		finishScenario(ctx, l, "")
	}, SpecTimeout(10*time.Minute))

	It("scales from 5 to 3 with a leaving node killed (pod force-deleted) while a shard moves off it: drains first, then shrinks, and deletes the volumes", func(ctx SpecContext) {
		w := watchShrink()
		l := startScenarioLoad(ctx, "scale-down-kill-leaving")
		leaving := []string{name + "-node-3", name + "-node-4"}
		victim := leaving[0]

		By("setting spec.replicas to 3")
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.Replicas = 3 })
		moment := waitForMoment(ctx, "a shard is moving off "+victim, movingOff(ctx, victim))
		By("force-deleting pod " + victim + " (grace period 0: SIGKILL) while " + moment)
		forceDeletePod(ctx, victim)
		expectShrunkTo3(ctx, l, w, leaving, toruav1alpha1.ReasonDraining)
	}, SpecTimeout(10*time.Minute))

	It("scales from 3 to 5 and, while the first replicas move, back to 3 (a cancelled scale-up): drains what moved, shrinks, deletes the new volumes", func(ctx SpecContext) {
		w := watchShrink()
		l := startScenarioLoad(ctx, "scale-up-cancelled")
		joining := []string{name + "-node-3", name + "-node-4"}

		By("setting spec.replicas to 5")
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.Replicas = 5 })
		moment := waitForMoment(ctx, "the first replicas are moving onto the new nodes", learnerOn(ctx, joining...))
		By("setting spec.replicas back to 3 while " + moment)
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.Replicas = 3 })
		expectShrunkTo3(ctx, l, w, joining, "")
	}, SpecTimeout(10*time.Minute))

	It("converges when the operator is killed and restarted during data moves (3 to 4 and back): no placement redone, the StatefulSet shrinks once", func(ctx SpecContext) {
		sets := record(&appsv1.StatefulSetList{}, client.MatchingFields{"metadata.name": name + "-node"})
		maps := record(&corev1.ConfigMapList{}, client.MatchingFields{"metadata.name": name + "-shardmap"})
		DeferCleanup(func() { _, _ = sets.stop(); _, _ = maps.stop() })
		l := startScenarioLoad(ctx, "operator-restart-data-move")
		added := name + "-node-3"

		By("setting spec.replicas to 4")
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.Replicas = 4 })
		moment := waitForMoment(ctx, "the map moves shards onto "+added, assignedTo(ctx, added))
		placed, err := readShardMap(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		By("killing the operator (" + moment + ") and starting a new one")
		Expect(env.RestartOperator(ctx)).To(Succeed())
		m := expectConverged(ctx, 4)
		expectBalanced(m)
		expectNodesHostTheirReplicas(ctx)
		Expect(m.Version).To(Equal(placed.Version), "the restarted operator published no other map than v%d", placed.Version)
		Expect(m.Assignments).To(Equal(placed.Assignments), "placement after the restart")

		By("setting spec.replicas to 3")
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.Replicas = 3 })
		moment = waitForMoment(ctx, "a shard is moving off "+added, movingOff(ctx, added))
		draining, err := readShardMap(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		By("killing the operator (" + moment + ") and starting a new one")
		Expect(env.RestartOperator(ctx)).To(Succeed())
		m = expectConverged(ctx, 3)
		expectBalanced(m)
		expectRemoved(ctx, []string{added}, 3)
		expectNodesHostTheirReplicas(ctx)
		finishScenario(ctx, l, "")

		By("checking each step was taken once: one draining placement, then the prune; the StatefulSet went 4 -> 3 directly, after the drain")
		stsEvents, err := sets.stop()
		Expect(err).NotTo(HaveOccurred())
		mapEvents, err := maps.stop()
		Expect(err).NotTo(HaveOccurred())
		sizes := sizeHistory(stsEvents)
		GinkgoWriter.Printf("StatefulSet sizes: %v\n", sizes)
		Expect(sizes).To(Equal([]int32{3, 4, 3}), "the StatefulSet's successive sizes")
		expectDrainedBeforeShrink(stsEvents, mapEvents, []string{added}, 3)
		var versions []string
		for _, mm := range shardMaps(mapEvents) {
			versions = append(versions, fmt.Sprintf("v%d (%d nodes)", mm.Version, len(mm.Nodes)))
			if mm.Version > draining.Version {
				Expect(mm.Assignments).To(Equal(draining.Assignments), "map v%d, published after v%d marked %s draining, places replicas as v%d did", mm.Version, draining.Version, added, draining.Version)
			}
		}
		GinkgoWriter.Printf("Shard maps: %v\n", versions)
	}, SpecTimeout(10*time.Minute))

	It("recovers unaided when every node pod is deleted at once: new pod IPs, the same members, every acknowledged write", func(ctx SpecContext) {
		before := nodePods(ctx, 3)
		l := startScenarioLoad(ctx, "full-restart")

		By("deleting every node pod at once")
		Expect(k8s.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(namespace),
			client.MatchingLabels{"app.kubernetes.io/instance": name, "app.kubernetes.io/component": "node"})).To(Succeed())
		var after map[string]*corev1.Pod
		Eventually(func(g Gomega) {
			after = map[string]*corev1.Pod{}
			for id, old := range before {
				p := &corev1.Pod{}
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(old), p)).To(Succeed())
				g.Expect(p.UID).NotTo(Equal(old.UID), "the StatefulSet recreated %s", id)
				g.Expect(isPodReady(p)).To(BeTrue(), "%s is ready again", id)
				after[id] = p
			}
		}).WithContext(ctx).WithTimeout(converge).WithPolling(poll).Should(Succeed())
		for id, p := range after {
			Expect(p.Status.PodIP).NotTo(Equal(before[id].Status.PodIP), "%s came back with a new pod IP", id)
		}
		m := expectConverged(ctx, 3)
		Expect(nodeIDs(m)).To(ConsistOf(slices.Collect(maps.Keys(before))), "membership unchanged")
		for _, n := range m.Nodes {
			Expect(n.API).To(HavePrefix(after[n.ID].Status.PodIP+":"), "the map gives %s its new address", n.ID)
		}
		expectNodesHostTheirReplicas(ctx)
		By("waiting for writes acknowledged after the restart")
		acked := l.acked.Load()
		Eventually(l.acked.Load).WithContext(ctx).WithTimeout(time.Minute).WithPolling(poll).Should(BeNumerically(">", acked+20))
		finishScenario(ctx, l, "every node pod deleted at once: every shard loses its quorum")

		By("reading the graph built at the start: every vertex and both halves of every edge are back")
		c, err := routers.pick(ctx)
		Expect(err).NotTo(HaveOccurred())
		expectGraph(ctx, c, graphName)
	}, SpecTimeout(10*time.Minute))

	It("rebuilds a node whose volume was lost (claim and pod deleted) under load: it rejoins empty, catches up, nothing acknowledged is lost", Label("lost-volume"), func(ctx SpecContext) {
		victim := name + "-node-2"
		claimKey := client.ObjectKey{Namespace: namespace, Name: "data-" + victim}
		oldClaim := &corev1.PersistentVolumeClaim{}
		Expect(k8s.Get(ctx, claimKey, oldClaim)).To(Succeed())
		oldPod := nodePods(ctx, 3)[victim]
		l := startScenarioLoad(ctx, "volume-lost")

		By("deleting claim data-" + victim + " (it waits for its pod: pvc-protection) and then pod " + victim)
		Expect(k8s.Delete(ctx, oldClaim)).To(Succeed())
		Expect(k8s.Delete(ctx, oldPod)).To(Succeed())
		By("waiting for a new claim and a new, ready pod")
		Eventually(func(g Gomega) {
			c := &corev1.PersistentVolumeClaim{}
			g.Expect(k8s.Get(ctx, claimKey, c)).To(Succeed())
			g.Expect(c.UID).NotTo(Equal(oldClaim.UID), "the StatefulSet made a new, empty claim")
			p := &corev1.Pod{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(oldPod), p)).To(Succeed())
			g.Expect(p.UID).NotTo(Equal(oldPod.UID), "the StatefulSet recreated the pod")
			g.Expect(isPodReady(p)).To(BeTrue(), "the new pod is ready")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(poll).Should(Succeed())

		By("waiting for the cluster to converge with " + victim + " a member again")
		expectConverged(ctx, 3)
		By("waiting for status.underReplicatedShards to return to 0")
		Eventually(func(g Gomega) {
			cur, err := getCluster(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cur.Status.UnderReplicatedShards).To(BeZero(), conditionSummary(cur))
		}).WithContext(ctx).WithTimeout(converge).WithPolling(poll).Should(Succeed())
		By("waiting until every node hosts its replicas and every group has the map's members")
		expectNodesHostTheirReplicas(ctx)
		finishScenario(ctx, l, "")
	}, SpecTimeout(10*time.Minute))

	It("restores 3 nodes after `kubectl scale sts --replicas=1` (the scale subresource) under load, deleting no claim of an undrained node", Label("scale-subresource"), func(ctx SpecContext) {
		claims := record(&corev1.PersistentVolumeClaimList{})
		DeferCleanup(func() { _, _ = claims.stop() })
		before := nodePods(ctx, 3)
		l := startScenarioLoad(ctx, "scale-subresource")

		By("scaling StatefulSet " + name + "-node to 1 through its scale subresource, as kubectl scale does")
		sts := &appsv1.StatefulSet{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name + "-node"}, sts)).To(Succeed())
		Expect(k8s.SubResource("scale").Update(ctx, sts, client.WithSubResourceBody(&autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: sts.Name},
			Spec:       autoscalingv1.ScaleSpec{Replicas: 1},
		}))).To(Succeed())

		By("waiting for the operator to restore 3 nodes")
		Eventually(func(g Gomega) {
			s := &appsv1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(sts), s)).To(Succeed())
			g.Expect(ptr.Deref(s.Spec.Replicas, 0)).To(BeEquivalentTo(3), "the StatefulSet's size")
			g.Expect(s.Status.ReadyReplicas).To(BeEquivalentTo(3), "%+v", s.Status)
		}).WithContext(ctx).WithTimeout(converge).WithPolling(poll).Should(Succeed())
		cur, err := getCluster(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		Expect(cur.Spec.Replicas).To(BeEquivalentTo(3), "spec.replicas is untouched")
		expectConverged(ctx, 3)
		expectNodesHostTheirReplicas(ctx)
		finishScenario(ctx, l, "the StatefulSet scaled to 1 takes two of three replicas of every shard away")

		By("checking no claim of a node that still held replicas was deleted")
		events, err := claims.stop()
		Expect(err).NotTo(HaveOccurred())
		for _, ev := range events {
			c := ev.obj.(*corev1.PersistentVolumeClaim)
			if _, ok := before[strings.TrimPrefix(c.Name, "data-")]; ok {
				Expect(ev.typ == watch.Deleted || c.DeletionTimestamp != nil).To(BeFalse(), "claim %s was deleted at %s", c.Name, ev.at.Format("15:04:05.000"))
			}
		}
	}, SpecTimeout(10*time.Minute))

	It("garbage-collects every child when deleted, keeping or deleting the volumes per spec.storage", func(ctx SpecContext) {
		cur, err := getCluster(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		retain := ptr.Deref(cur.Spec.Storage.RetainOnDelete, true)
		expectDeletedWithChildren(ctx, cur, 3, retain)

		By("and a cluster with storage.retainOnDelete=false loses its volumes with it")
		small := &toruav1alpha1.ToruaCluster{
			ObjectMeta: metav1.ObjectMeta{Name: "ephemeral", Namespace: namespace},
			Spec: toruav1alpha1.ToruaClusterSpec{
				Replicas: 1, Shards: 1, ReplicationFactor: 1, Image: env.Image(),
				Storage: toruav1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("64Mi")), RetainOnDelete: ptr.To(false)},
				Router:  toruav1alpha1.RouterSpec{Replicas: 1},
			},
		}
		Expect(k8s.Create(ctx, small)).To(Succeed())
		Eventually(func(g Gomega) {
			got, err := getCluster(ctx, small.Name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(conditionIs(got, toruav1alpha1.ConditionAvailable, metav1.ConditionTrue)).To(BeTrue(), conditionSummary(got))
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "data-ephemeral-node-0"}, &corev1.PersistentVolumeClaim{})).To(Succeed())
		}).WithContext(ctx).WithTimeout(converge).WithPolling(poll).Should(Succeed())
		got, err := getCluster(ctx, small.Name)
		Expect(err).NotTo(HaveOccurred())
		expectDeletedWithChildren(ctx, got, 1, false)
	}, SpecTimeout(8*time.Minute))
})

// expectDeletedWithChildren deletes a ToruaCluster and waits until the garbage collector has
// removed every object the operator made for it; its nodes' volume claims must then exist
// (retain) or be gone.
func expectDeletedWithChildren(ctx context.Context, tc *toruav1alpha1.ToruaCluster, nodes int, retain bool) {
	By(fmt.Sprintf("deleting ToruaCluster %s (storage.retainOnDelete=%v)", tc.Name, retain))
	Expect(k8s.Delete(ctx, tc)).To(Succeed())
	key := func(n string) client.ObjectKey { return client.ObjectKey{Namespace: namespace, Name: n} }
	children := []struct {
		name string
		obj  client.Object
	}{
		{tc.Name, &toruav1alpha1.ToruaCluster{}},
		{tc.Name + "-node", &appsv1.StatefulSet{}},
		{tc.Name + "-router", &appsv1.Deployment{}},
		{tc.Name, &corev1.Service{}},
		{tc.Name + "-node", &corev1.Service{}},
		{tc.Name + "-peers", &corev1.Service{}},
		{tc.Name + "-shardmap", &corev1.ConfigMap{}},
		{tc.Name + "-node", &policyv1.PodDisruptionBudget{}},
		{tc.Name + "-data", &corev1.ServiceAccount{}},
		{tc.Name + "-data", &rbacv1.Role{}},
		{tc.Name + "-data", &rbacv1.RoleBinding{}},
	}
	Eventually(func(g Gomega) {
		for _, c := range children {
			err := k8s.Get(ctx, key(c.name), c.obj)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T %s is gone (err: %v)", c.obj, c.name, err)
		}
		var pods corev1.PodList
		g.Expect(k8s.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{"app.kubernetes.io/instance": tc.Name})).To(Succeed())
		g.Expect(pods.Items).To(BeEmpty(), "pods of %s", tc.Name)
	}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(poll).Should(Succeed())

	for i := range nodes {
		claim := fmt.Sprintf("data-%s-node-%d", tc.Name, i)
		if retain {
			pvc := &corev1.PersistentVolumeClaim{}
			Expect(k8s.Get(ctx, key(claim), pvc)).To(Succeed(), "claim %s kept", claim)
			Expect(pvc.DeletionTimestamp).To(BeNil(), "claim %s is not being deleted", claim)
			for _, o := range pvc.OwnerReferences {
				Expect(o.Kind).NotTo(Equal("StatefulSet"), "claim %s has no owner that takes it away", claim)
			}
			continue
		}
		Eventually(func() error {
			return k8s.Get(ctx, key(claim), &corev1.PersistentVolumeClaim{})
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(poll).Should(Satisfy(apierrors.IsNotFound), "claim %s deleted", claim)
	}
}

// getTable GETs path as kubectl get does: as a meta.k8s.io Table with the CRD's printer columns.
func getTable(ctx context.Context, path string) *metav1.Table {
	hc, err := rest.HTTPClientFor(env.Config())
	Expect(err).NotTo(HaveOccurred())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(env.Config().Host, "/")+path, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))
	table := &metav1.Table{}
	Expect(json.Unmarshal(body, table)).To(Succeed())
	Expect(table.Kind).To(Equal("Table"), string(body))
	return table
}

func resourceVersion(obj client.Object) uint64 {
	rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	Expect(err).NotTo(HaveOccurred())
	return rv
}

func hostedShards(st *shardmap.NodeStatus) []int {
	var out []int
	for _, s := range st.Shards {
		out = append(out, s.Shard)
	}
	return out
}

func replicasOf(m *shardmap.Map, shard int) []string {
	for _, a := range m.Assignments {
		if a.Shard == shard {
			return a.Replicas
		}
	}
	return nil
}

func nodeIDs(m *shardmap.Map) []string {
	var ids []string
	for _, n := range m.Nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

// eventsSince returns the messages of the namespace's events with the given reason since start.
func eventsSince(ctx context.Context, start time.Time, reason string) []string {
	events, err := kube.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, e := range events.Items {
		if e.Reason == reason && !eventTime(e).Before(start.Truncate(time.Second)) {
			out = append(out, e.Message)
		}
	}
	return out
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func onlyKeys(all, keys map[string]string) map[string]string {
	out := map[string]string{}
	for k := range keys {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	return out
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... and %d more", len(s)-n))
	}
	return s
}

// graphName is the graph the first scenario builds and a later one reads back: a ring of 100
// :Person vertices, each with a NEXT edge to the next.
// graphName is the graph built by queries, bulkGraphName the one bulk-loaded.
const graphName, bulkGraphName = "e2e", "e2e-bulk"

// expectGraph checks graph, a ring: 100 vertices, 100 edges seen from both ends, and a path of
// 99 hops around it.
func expectGraph(ctx context.Context, c *routercl.Client, graph string) {
	GinkgoHelper()
	for q, want := range map[string]int64{
		`MATCH (p:Person) RETURN count(p)`:               100,
		`MATCH (a:Person)-[r:NEXT]->(b) RETURN count(r)`: 100,
		`MATCH (b:Person)<-[r:NEXT]-(a) RETURN count(r)`: 100,
		`MATCH (a:Person {id: 1}), (b:Person {id: 100}) MATCH p = shortestPath((a)-[:NEXT*..100]->(b)) RETURN length(p)`: 99,
	} {
		res, err := c.Query(ctx, graph, q, nil)
		Expect(err).NotTo(HaveOccurred(), q)
		Expect(res.Rows).To(Equal([][]any{{want}}), q)
	}
}

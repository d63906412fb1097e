//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
			Expect(a.Replicas).To(HaveLen(int(tc.Spec.ReplicationFactor)), "shard %d", a.Shard)
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
		Eventually(func(g Gomega) {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name + "-node"}, sts)).To(Succeed())
			g.Expect(sts.Status.UpdatedReplicas).To(BeEquivalentTo(3), "%+v", sts.Status)
			g.Expect(sts.Status.CurrentRevision).To(Equal(sts.Status.UpdateRevision), "%+v", sts.Status)
			for _, id := range nodes {
				p := &corev1.Pod{}
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: id}, p)).To(Succeed())
				g.Expect(p.UID).NotTo(Equal(initial[id].UID), "%s restarted", id)
				g.Expect(p.Spec.Containers[0].Image).To(Equal(env.RestartImage()))
				g.Expect(isPodReady(p)).To(BeTrue(), "%s ready", id)
			}
		}).WithContext(ctx).WithTimeout(converge).WithPolling(poll).Should(Succeed())
		expectConverged(ctx, 3)
		finishScenario(ctx, l, "")

		By("checking the pods went one at a time, highest ordinal first")
		podEvents, err := pods.stop()
		Expect(err).NotTo(HaveOccurred())
		stopped := map[string]time.Time{} // initial pod name -> when it was seen terminating
		var order []string
		state := map[string]*corev1.Pod{}
		maxDown, downAt := 0, ""
		for _, ev := range podEvents {
			p := ev.obj.(*corev1.Pod)
			if p.Labels["app.kubernetes.io/instance"] != name {
				continue
			}
			if ev.typ == watch.Deleted {
				delete(state, p.Name)
			} else {
				state[p.Name] = p
			}
			if initialPod, ok := initial[p.Name]; ok && p.UID == initialPod.UID && (p.DeletionTimestamp != nil || ev.typ == watch.Deleted) {
				if _, seen := stopped[p.Name]; !seen {
					stopped[p.Name] = ev.at
					order = append(order, p.Name)
				}
			}
			if len(stopped) == 0 {
				continue // still the watch's initial listing
			}
			down := 0
			var which []string
			for _, id := range nodes {
				if q := state[id]; q == nil || q.DeletionTimestamp != nil || !isPodReady(q) {
					down++
					which = append(which, id)
				}
			}
			if down > maxDown {
				maxDown, downAt = down, fmt.Sprintf("%s: %v", ev.at.Format("15:04:05.000"), which)
			}
		}
		GinkgoWriter.Printf("Old node pods stopped in the order %v; at most %d node pods unavailable at once (%s)\n", order, maxDown, downAt)
		Expect(order).To(Equal([]string{nodes[2], nodes[1], nodes[0]}), "order in which the old pods stopped")
		Expect(maxDown).To(BeNumerically("<=", 1), "node pods unavailable at once (at %s)", downAt)

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

	It("scales from 3 to 5 nodes: the new pods join, placement balances, Rebalancing then Available", func(ctx SpecContext) {
		clusters := record(&toruav1alpha1.ToruaClusterList{})
		DeferCleanup(func() { _, _ = clusters.stop() })
		l := startScenarioLoad(ctx, "scale-up")

		By("setting spec.replicas to 5")
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.Replicas = 5 })
		m := expectConverged(ctx, 5)
		for _, id := range []string{name + "-node-3", name + "-node-4"} {
			n, ok := m.Node(id)
			Expect(ok).To(BeTrue(), "%s joined the shard map", id)
			Expect(n.State).To(Equal(shardmap.NodeActive))
		}
		expectBalanced(m)
		expectNodesHostTheirReplicas(ctx)

		finishScenario(ctx, l, "")

		events, err := clusters.stop()
		Expect(err).NotTo(HaveOccurred())
		history := conditionHistory(events, toruav1alpha1.ConditionRebalancing)
		GinkgoWriter.Printf("Rebalancing: %v\nAvailable: %v\nProgressing: %v\n", history,
			conditionHistory(events, toruav1alpha1.ConditionAvailable), conditionHistory(events, toruav1alpha1.ConditionProgressing))
		Expect(history).To(ContainElement(HavePrefix("True/")), "Rebalancing was never True while replicas moved to the new nodes: %v", history)
		Expect(history[len(history)-1]).To(HavePrefix("False/"))
	}, SpecTimeout(10*time.Minute))

	It("scales from 5 to 3 nodes: drains the leaving nodes first, then shrinks, and deletes their volumes", func(ctx SpecContext) {
		clusters := record(&toruav1alpha1.ToruaClusterList{})
		sets := record(&appsv1.StatefulSetList{}, client.MatchingFields{"metadata.name": name + "-node"})
		maps := record(&corev1.ConfigMapList{}, client.MatchingFields{"metadata.name": name + "-shardmap"})
		DeferCleanup(func() { _, _ = clusters.stop(); _, _ = sets.stop(); _, _ = maps.stop() })
		l := startScenarioLoad(ctx, "scale-down")
		leaving := []string{name + "-node-3", name + "-node-4"}

		By("setting spec.replicas to 3")
		setSpec(ctx, func(c *toruav1alpha1.ToruaCluster) { c.Spec.Replicas = 3 })
		m := expectConverged(ctx, 3)
		expectBalanced(m)
		for _, id := range leaving {
			_, ok := m.Node(id)
			Expect(ok).To(BeFalse(), "%s was pruned from the shard map", id)
			Eventually(func() error {
				return k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: id}, &corev1.Pod{})
			}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(poll).Should(Satisfy(apierrors.IsNotFound), "pod %s removed", id)
		}
		expectNodesHostTheirReplicas(ctx)
		finishScenario(ctx, l, "")

		By("checking the drain came before the shrink")
		stsEvents, err := sets.stop()
		Expect(err).NotTo(HaveOccurred())
		mapEvents, err := maps.stop()
		Expect(err).NotTo(HaveOccurred())
		// NB: resourceVersions are etcd revisions, one sequence for all objects: they order
		// the map's versions against the StatefulSet's shrink exactly.
		shrinkRV := uint64(0)
		for _, ev := range stsEvents {
			if s := ev.obj.(*appsv1.StatefulSet); ptr.Deref(s.Spec.Replicas, 0) == 3 {
				shrinkRV = resourceVersion(s)
				break
			}
		}
		Expect(shrinkRV).NotTo(BeZero(), "the StatefulSet was seen shrinking to 3")
		var drained, before *shardmap.Map
		for _, ev := range mapEvents {
			cm := ev.obj.(*corev1.ConfigMap)
			if resourceVersion(cm) >= shrinkRV {
				break
			}
			mm, err := shardMapOf(cm)
			Expect(err).NotTo(HaveOccurred())
			before = mm
			if n, ok := mm.Node(leaving[0]); ok && n.State == shardmap.NodeDraining && drained == nil {
				drained = mm
			}
		}
		Expect(drained).NotTo(BeNil(), "a shard map marking %v draining was published before the StatefulSet shrank", leaving)
		GinkgoWriter.Printf("Map v%d marked %v draining; v%d was the last before the StatefulSet shrank (resourceVersion %d): replicas per node %v\n",
			drained.Version, leaving, before.Version, shrinkRV, replicaCounts(before))
		counts := replicaCounts(before)
		for _, id := range leaving {
			n, ok := before.Node(id)
			Expect(ok).To(BeTrue(), "%s still in the map (draining) when the StatefulSet shrank", id)
			Expect(n.State).To(Equal(shardmap.NodeDraining))
			Expect(counts[id]).To(BeZero(), "%s held no replica in the map (v%d) when the StatefulSet shrank", id, before.Version)
		}
		events, err := clusters.stop()
		Expect(err).NotTo(HaveOccurred())
		history := conditionHistory(events, toruav1alpha1.ConditionRebalancing)
		GinkgoWriter.Printf("Rebalancing: %v\nProgressing: %v\n", history, conditionHistory(events, toruav1alpha1.ConditionProgressing))
		Expect(history).To(ContainElement("True/"+toruav1alpha1.ReasonDraining), "Rebalancing while draining")
		Expect(history[len(history)-1]).To(HavePrefix("False/"))

		By("checking the volumes per spec.storage: a scale-down deletes the drained nodes' claims")
		for _, id := range leaving {
			Eventually(func() error {
				return k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "data-" + id}, &corev1.PersistentVolumeClaim{})
			}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(poll).Should(Satisfy(apierrors.IsNotFound), "claim data-%s deleted", id)
		}
		for i := range 3 {
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fmt.Sprintf("data-%s-node-%d", name, i)}, &corev1.PersistentVolumeClaim{})).To(Succeed())
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

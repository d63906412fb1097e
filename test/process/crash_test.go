package process

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestNodeKilledDuringWrites SIGKILLs a node while clients write through the router, restarts
// it on the same address and data directory, and checks that every acknowledged write is there.
func TestNodeKilledDuringWrites(t *testing.T) {
	g := NewWithT(t)
	c := newCluster(t)
	l := newLedger()
	w := startWriters(c.c, l, 8, 40, "crash")
	defer func() {
		select {
		case <-w.stop:
		default:
			w.halt()
		}
	}()
	victim := c.node("node-2")

	waitFor(t, 20*time.Second, "300 writes acknowledged before the kill", func() bool { a, _ := w.counts(); return a >= 300 })
	victim.p.kill()
	g.Expect(victim.p.cmd.ProcessState.Sys().(syscall.WaitStatus).Signal()).To(Equal(syscall.SIGKILL))
	acksAtKill, errsAtKill := w.counts()
	t.Logf("killed %s after %d acknowledged writes", victim.id, acksAtKill)

	// The other nodes keep serving; writes to the dead node's shards fail.
	waitFor(t, 20*time.Second, "writes fail for the dead node and succeed for the others", func() bool {
		a, e := w.counts()
		return a >= acksAtKill+100 && e >= errsAtKill+10
	})

	c.restartNode(victim, 1)
	acksAtRestart, _ := w.counts()
	waitFor(t, 20*time.Second, "200 writes acknowledged after the restart", func() bool { a, _ := w.counts(); return a >= acksAtRestart+200 })
	w.halt()
	acks, errs := w.counts()
	t.Logf("%d writes acknowledged, %d failed (last: %v)", acks, errs, w.lastErr)

	keys := l.verify(t, c.c)
	g.Expect(keys).To(BeNumerically(">", 0))
	// The restarted node serves again: the writes to its keys since the restart went through.
	onVictim := 0
	for key, h := range l.keys {
		if c.owner(key) == victim.id && h.acked {
			onVictim++
		}
	}
	g.Expect(onVictim).To(BeNumerically(">", 0), "acknowledged keys on %s", victim.id)
}

// TestNodeTerminatedDuringWrites sends SIGTERM to a node while clients write through the
// router: it exits 0 within its grace period after a clean shutdown, and after a restart every
// write it acknowledged is there.
func TestNodeTerminatedDuringWrites(t *testing.T) {
	g := NewWithT(t)
	// A short grace: connections that never sent a request (the router's transport leaves
	// spare ones behind) must not hold the shutdown up (net/http alone waits 5s for them).
	c := newCluster(t, "--shutdown-grace", "3s")
	l := newLedger()
	w := startWriters(c.c, l, 8, 40, "term")
	defer func() {
		select {
		case <-w.stop:
		default:
			w.halt()
		}
	}()
	victim := c.node("node-3")

	waitFor(t, 20*time.Second, "300 writes acknowledged before SIGTERM", func() bool { a, _ := w.counts(); return a >= 300 })
	victim.p.signal(syscall.SIGTERM)
	code, ok := victim.p.wait(3*time.Second + 2*time.Second)
	g.Expect(ok).To(BeTrue(), "%s still running 2s after its 3s grace period", victim.id)
	g.Expect(code).To(Equal(0), "exit code of %s after SIGTERM", victim.id)
	acksAtStop, errsAtStop := w.counts()

	logText, err := os.ReadFile(victim.log)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(logText)).To(ContainSubstring(`"msg":"Shutting down"`))
	g.Expect(string(logText)).To(ContainSubstring(`"msg":"Node stopped"`))
	for _, line := range strings.Split(string(logText), "\n") {
		g.Expect(line).NotTo(ContainSubstring(`"level":"ERROR"`))
	}

	waitFor(t, 20*time.Second, "writes fail for the stopped node and succeed for the others", func() bool {
		a, e := w.counts()
		return a >= acksAtStop+100 && e >= errsAtStop+10
	})
	c.restartNode(victim, 1)
	acksAtRestart, _ := w.counts()
	waitFor(t, 20*time.Second, "200 writes acknowledged after the restart", func() bool { a, _ := w.counts(); return a >= acksAtRestart+200 })
	w.halt()
	acks, errs := w.counts()
	t.Logf("%d writes acknowledged, %d failed (last: %v)", acks, errs, w.lastErr)
	g.Expect(l.verify(t, c.c)).To(BeNumerically(">", 0))
}

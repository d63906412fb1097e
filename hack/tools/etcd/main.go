// Command etcd is the upstream etcd server, built from go.etcd.io/etcd module sources for the test
// tiers. See hack/k8s-test-binaries.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

// Command kube-apiserver is the upstream kube-apiserver, built from k8s.io/kubernetes module sources
// for the test tiers. See hack/k8s-test-binaries.sh.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}

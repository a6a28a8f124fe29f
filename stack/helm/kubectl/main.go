// kubectl at the local cluster's version, for the chart's tests and docs/install.md. The
// Kubernetes repository's own kubectl main package cannot be built outside it (its go.mod
// replaces every staging module), so this package wires the same published command tree.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	os.Exit(cli.Run(cmd.NewDefaultKubectlCommand()))
}

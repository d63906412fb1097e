package localkube

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// PodCIDR is the range pod IPs are taken from. Inside the private network namespace it is
// local on the loopback device, so every pod IP is reachable and nothing routes out.
const PodCIDR = "10.244.0.0/16"

// envInside marks the re-executed test binary running inside the private namespaces.
const envInside = "TORUA_LOCALKUBE_NETNS"

// Main is the TestMain of a suite that uses localkube. Pod IPs may not be loopback addresses
// (EndpointSlice validation refuses them), so the suite runs inside a private user and network
// namespace: Main re-executes the test binary there (mapping the current user to root inside),
// brings up lo with PodCIDR local on it, and runs the tests. Nothing in that namespace reaches the
// host's network and the host's routes are untouched; it needs no privileges, only user
// namespaces and the ip command (iproute2).
//
// NB: run is called only in the child; the parent exits with the child's status.
func Main(m *testing.M) {
	if os.Getenv(envInside) == "" {
		os.Exit(reexecInNamespace())
	}
	if err := setUpLoopback(); err != nil {
		fmt.Fprintf(os.Stderr, "localkube: set up the network namespace: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// InNamespace reports whether the process runs inside Main's private namespaces.
func InNamespace() bool { return os.Getenv(envInside) != "" }

func reexecInNamespace() int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "localkube: find the test binary: %v\n", err)
		return 1
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInside+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
	}
	if err := cmd.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			return exit.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "localkube: re-execute the tests in a user+network namespace: %v\n", err)
		return 1
	}
	return 0
}

func setUpLoopback() error {
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"route", "add", "local", PodCIDR, "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %v: %w: %s", args, err, out)
		}
	}
	return nil
}

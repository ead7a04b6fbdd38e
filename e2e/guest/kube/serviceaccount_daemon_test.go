//go:build lab

package kube

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// inClusterDaemon is `ipvsd run` started as a pod's process would be.
type inClusterDaemon struct {
	*daemon
	cmd     *exec.Cmd
	stopped bool
}

// startInCluster writes sa's token and the CA into saDir and runs ipvsd
// with args and the environment the kubelet gives a pod (the API server
// in KUBERNETES_SERVICE_HOST/PORT), until stop or t's cleanup. With
// healthy it returns once /healthz answers 200, as the readiness probe
// waits for.
func startInCluster(t *testing.T, c kubernetes.Interface, sa *corev1.ServiceAccount, args []string, healthy bool) *inClusterDaemon {
	t.Helper()
	host, port, ca := apiServerEndpoint(t)
	writeServiceAccount(t, c, sa, ca)
	logf, err := os.CreateTemp("", "ipvsd-incluster-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ipvsd", args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBERNETES_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "KUBERNETES_SERVICE_HOST="+host, "KUBERNETES_SERVICE_PORT="+port)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ipvsd %v: %v", args, err)
	}
	d := &inClusterDaemon{daemon: &daemon{exited: make(chan struct{}), log: logf.Name(), pid: cmd.Process.Pid}, cmd: cmd}
	go func() {
		d.err = cmd.Wait()
		logf.Close()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("ipvsd (%s) log:\n%s", sa.Name, tail(readTrim(t, d.log), 120))
		}
	})
	if healthy {
		took := d.waitHealthy(t, 90*time.Second)
		t.Logf("ipvsd run as %s/%s healthy after %s", sa.Namespace, sa.Name, took.Round(time.Millisecond))
	}
	return d
}

// stop ends the daemon with SIGTERM, which it must obey with exit status
// 0; a daemon that died before is an error.
func (d *inClusterDaemon) stop(t *testing.T) {
	t.Helper()
	if d.stopped {
		return
	}
	d.stopped = true
	select {
	case <-d.exited:
		t.Errorf("ipvsd run exited before it was stopped: %v", d.err)
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if d.err != nil {
			t.Errorf("ipvsd run on SIGTERM: %v", d.err)
		}
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		t.Error("ipvsd run ignored SIGTERM for 30 s")
	}
}

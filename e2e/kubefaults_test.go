package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/lab"
)

// Guest paths and environment of e2e/guest/kubefaults.
const (
	kubeFaultsExpected = "/lab/kubefaults/expected.txt"
	kubeFaultsNS       = "faults"
	// kubeFaultsEndpoints is the number of endpoints of each Service.
	kubeFaultsEndpoints = 10
)

// TestLabKubeFaults creates many Services with ten endpoints each through
// a real API server, then runs e2e/guest/kubefaults in the VM: `ipvsd
// run` killed with SIGKILL at seeded random moments of its cold sync five
// times (the API server stopped and started during two of them), then one
// clean start, after which the kernel's table must equal the one computed
// here from what was created. IPVSD_E2E_KUBEFAULTS_SERVICES sets the
// number of Services (default 3,000), IPVSD_E2E_SEED the seed.
func TestLabKubeFaults(t *testing.T) {
	parallelFaultTest(t)
	// 3,000 Services keep the run near 8 minutes on an idle machine: the
	// lab's emulated CPU takes about a minute to program them from an
	// empty table, and each of the six starts lists them all again.
	n := envInt(t, "IPVSD_E2E_KUBEFAULTS_SERVICES", 3000)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("IPVSD_E2E_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("IPVSD_E2E_SEED: %v", err)
		}
	}
	t.Logf("seed %d (IPVSD_E2E_SEED=%d repeats this run), %d services x %d endpoints", seed, seed, n, kubeFaultsEndpoints)

	s := apiserver.Start(t)
	c := bulkClient(t, s.HostKubeconfig)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := apiserver.EnsureNamespace(ctx, c, kubeFaultsNS); err != nil {
		t.Fatal(err)
	}
	if _, err := apiserver.CreateNode(ctx, c, "lab", nil, "10.0.2.15"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	expected, err := createFaultServices(ctx, c, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("created %d services and %d endpoint slices in %s", n, n, time.Since(start).Round(time.Millisecond))
	kube, err := kubernetesServiceLines(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	expected = append(expected, kube...)
	slices.Sort(expected)

	files, err := s.GuestFiles()
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, lab.File{GuestPath: kubeFaultsExpected, Data: []byte(strings.Join(expected, "\n") + "\n")})
	env := map[string]string{
		"IPVSD_E2E_SEED":                 strconv.FormatUint(seed, 10),
		"IPVSD_E2E_KUBEFAULTS_EXPECTED":  kubeFaultsExpected,
		"IPVSD_E2E_KUBEFAULTS_SERVICES":  strconv.Itoa(n),
		"IPVSD_E2E_KUBEFAULTS_NAMESPACE": kubeFaultsNS,
	}
	// IPVSD_E2E_KUBEFAULTS_WINDOW overrides the span of the kill moments.
	if v := os.Getenv("IPVSD_E2E_KUBEFAULTS_WINDOW"); v != "" {
		env["IPVSD_E2E_KUBEFAULTS_WINDOW"] = v
	}
	bootWithAPIServer(t, s, lab.Config{
		Run:      lab.BuildTests(t, []string{"./e2e/guest/kubefaults"}, "-test.timeout=13m"),
		Tools:    []lab.Binary{lab.IPVSD(t)},
		Files:    files,
		Env:      env,
		Network:  true,
		MemoryMB: 3072,
		Timeout:  15 * time.Minute,
	})
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// bulkClient is an admin client without client-go's default rate limit
// (5 requests a second), which would make creating thousands of objects
// take an hour.
func bulkClient(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createFaultServices creates n ClusterIP Services (TCP 80 to 8080), each
// with one EndpointSlice of ten ready endpoints, and returns the table
// `ipvsadm -Sn` must list for them: a virtual server per ClusterIP with
// the default scheduler (rr) and ten masqueraded real servers of weight 1.
// It is computed from what the API server returned, not from ipvsd.
func createFaultServices(ctx context.Context, c kubernetes.Interface, n int) ([]string, error) {
	const workers = 16
	lines := make([][]string, n)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n && errs[w] == nil; i += workers {
				lines[i], errs[w] = createFaultService(ctx, c, i)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return slices.Concat(lines...), nil
}

func createFaultService(ctx context.Context, c kubernetes.Interface, i int) ([]string, error) {
	svc, err := apiserver.CreateService(ctx, c, apiserver.NewService(kubeFaultsNS, fmt.Sprintf("s%05d", i), apiserver.TCPPort("http", 80, 8080)))
	if err != nil {
		return nil, err
	}
	vip := svc.Spec.ClusterIP + ":80"
	out := []string{"-A -t " + vip + " -s rr"}
	eps := make([]apiserver.Endpoint, kubeFaultsEndpoints)
	for j := range eps {
		ip := endpointIP(i, j)
		eps[j] = apiserver.Endpoint{IP: ip.String(), Node: "other"}
		out = append(out, "-a -t "+vip+" -r "+ip.String()+":8080 -m -w 1")
	}
	slice := apiserver.NewEndpointSlice(svc, svc.Name+"-1", eps, apiserver.SlicePort("http", 8080))
	if _, err := apiserver.CreateEndpointSlice(ctx, c, slice); err != nil {
		return nil, err
	}
	return out, nil
}

// endpointIP is endpoint j of Service i, in 10.16.0.0/12: clear of the
// lab's network (10.0.2.0/24), the Service range and the cluster CIDR.
func endpointIP(i, j int) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 0x0a100000+uint32(i*16+j+1))
	return netip.AddrFrom4(b)
}

// kubernetesServiceLines is the table of the `kubernetes` Service, which
// the API server creates for itself: its ClusterIP on 443 to each address
// of its EndpointSlice.
func kubernetesServiceLines(ctx context.Context, c kubernetes.Interface) ([]string, error) {
	svc, err := c.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("getting the kubernetes service: %w", err)
	}
	slice, err := c.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("getting the kubernetes endpoint slice: %w", err)
	}
	if len(svc.Spec.Ports) != 1 || len(slice.Ports) != 1 || slice.Ports[0].Port == nil || svc.Spec.Ports[0].Protocol != corev1.ProtocolTCP {
		return nil, fmt.Errorf("the kubernetes service has ports %v, its slice %v: want one TCP port each", svc.Spec.Ports, slice.Ports)
	}
	vip := fmt.Sprintf("%s:%d", svc.Spec.ClusterIP, svc.Spec.Ports[0].Port)
	out := []string{"-A -t " + vip + " -s rr"}
	for _, ep := range slice.Endpoints {
		for _, a := range ep.Addresses {
			out = append(out, fmt.Sprintf("-a -t %s -r %s:%d -m -w 1", vip, a, *slice.Ports[0].Port))
		}
	}
	return out, nil
}

package etcdstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pmipdmm/pmipdmm/dmm/store/etcdstore"
	"github.com/pmipdmm/pmipdmm/dmm/store/storetest"
	"github.com/pmipdmm/pmipdmm/internal/etcdtest"
)

var ctx = context.Background()

// client returns a client of the given endpoints, closed at the end of
// the test.
func client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var nsSeq atomic.Int64

// conformance runs the shared suite on cluster c, each subtest in its own
// namespace (an empty store; the revisions are the cluster's).
func conformance(t *testing.T, c *etcdtest.Cluster) {
	cli := client(t, c.Endpoints()...)
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		ns := fmt.Sprintf("conf%d/", nsSeq.Add(1))
		return storetest.Harness{Store: etcdstore.New(cli, etcdstore.WithNamespace(ns)), EventWait: 5 * time.Second}
	})
}

func TestConformance1(t *testing.T) { conformance(t, etcdtest.Start(t, 1)) }

func TestConformance3(t *testing.T) { conformance(t, etcdtest.Start(t, 3)) }

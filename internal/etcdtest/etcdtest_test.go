package etcdtest

import (
	"context"
	"testing"
	"time"
)

func TestClusterLifecycle(t *testing.T) {
	c := Start(t, 3)
	if len(c.Endpoints()) != 3 {
		t.Fatalf("endpoints %v", c.Endpoints())
	}
	ctx := context.Background()
	for _, m := range c.Members {
		if err := m.Healthy(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.Members[1].Kill()
	if c.Members[1].Running() {
		t.Fatal("killed member still running")
	}
	if err := c.Members[1].Healthy(ctx); err == nil {
		t.Fatal("killed member answers /health")
	}
	// Two of three: still a quorum.
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := c.WaitHealthy(wctx); err != nil {
		t.Fatalf("cluster without one member: %v", err)
	}
	c.Members[1].Restart()
	c.Members[2].Stop()
	if c.Members[2].Running() {
		t.Fatal("stopped member still running")
	}
}

package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/store"
)

// This file checks the Audit role: one chain, even when appends race.

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	first, err := s.AppendAudit(ctx, audit.Record{At: at(time.Minute), Staff: "nurse@clinic.org", Action: audit.ViewTimeline, Patient: "p1", From: "10.0.0.1"})
	noErr(t, "AppendAudit", err)
	if first.Seq != 1 || first.Prev != audit.Genesis || first.Hash == "" {
		t.Fatalf("first record %+v", first)
	}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			if _, err := s.AppendAudit(ctx, audit.Record{At: at(time.Duration(i) * time.Second), Staff: "coach@clinic.org", Action: audit.Claim, Ticket: "t1"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var v audit.Verifier
	noErr(t, "AuditRecords", s.AuditRecords(ctx, v.Next))
	if v.Count() != 13 {
		t.Fatalf("%d records verified, want 13", v.Count())
	}
}

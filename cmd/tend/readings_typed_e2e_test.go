package main

import (
	"net/http"
	"testing"

	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/store"
)

// TestTypedReadingEndToEnd: through the real binary, a blood pressure in
// crisis range texted by a patient ("BP 186/122") is recorded as the
// patient's and gets the confirm question; YES (symptoms) opens the acute
// ticket. An impossible one is asked again and recorded never.
func TestTypedReadingEndToEnd(t *testing.T) {
	t.Parallel()
	fake := smstest.New(t)
	srv := startTend(t, "", t.TempDir(), fake)
	const phone = "+15551230102"
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "p-sms", "phone": phone, "language": "es",
		"timezone": "America/Chicago", "channel": "sms", "programs": []string{"hypertension"}}, http.StatusCreated, nil)
	waitTo(t, fake, phone, 1) // the welcome
	reply := func(body string) {
		t.Helper()
		res := smstest.PostInbound(t, srv.URL, srv.URL, fake.AuthToken, phone, body, sid())
		if res.StatusCode/100 != 2 {
			t.Fatalf("inbound %q: status %d", body, res.StatusCode)
		}
	}
	readingsOf := func() []store.Event {
		var out []store.Event
		for _, ev := range srv.timeline("p-sms") {
			if ev.Type == "reading" {
				out = append(out, ev)
			}
		}
		return out
	}

	reply("presión 95 sobre 150") // swapped: asked again
	srv.messageOut("p-sms", "reading.again")
	if rs := readingsOf(); len(rs) != 0 {
		t.Fatalf("an impossible reading was recorded: %+v", rs)
	}
	reply("presión ١٨٦/١٢٢") // Arabic-Indic digits
	srv.messageOut("p-sms", "confirm.bp.ask")
	reply("1")
	if tk := srv.openTicket("p-sms"); tk["priority"] != "acute" {
		t.Errorf("p-sms's ticket %+v: want acute", tk)
	}
	if rs := readingsOf(); len(rs) != 1 || rs[0].Source != "patient" || rs[0].Value != "186/122" || rs[0].Kind != "blood_pressure" {
		t.Errorf("readings %+v: want one 186/122 blood pressure from the patient", rs)
	}
}

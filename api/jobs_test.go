package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/store"
)

// jobAnswer is a job as the API writes it.
type jobAnswer struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	State      string   `json:"state"`
	Total      int      `json:"total"`
	Done       int      `json:"done"`
	Skipped    int      `json:"skipped"`
	Failed     int      `json:"failed"`
	Errors     []string `json:"errors"`
	Duplicates int      `json:"duplicates"`
}

// jobOf decodes a job answer.
func jobOf(t *testing.T, body []byte) jobAnswer {
	t.Helper()
	var j jobAnswer
	if err := json.Unmarshal(body, &j); err != nil || j.ID == "" {
		t.Fatalf("not a job: %s (%v)", body, err)
	}
	return j
}

// waitJob polls GET /jobs/{id} until the job is no longer running.
func (e *env) waitJob(id string) jobAnswer {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		status, body := e.call("GET", "/jobs/"+id, "")
		if status != http.StatusOK {
			e.t.Fatalf("GET /jobs/%s: %d %s", id, status, body)
		}
		j := jobOf(e.t, body)
		if j.State != store.JobRunning {
			return j
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %s still running: %+v", id, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// post sends a request with headers and returns the response (body read).
func (e *env) post(path, body string, header map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, b
}

// storePatients writes n enrollments (ids b0...) straight to the store, in
// parallel: the setup of a big start, not what it tests.
func (e *env) storePatients(n int) []string {
	e.t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	work := make(chan int)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				p := store.Patient{ID: ids[i], Phone: fmt.Sprintf("+1555%07d", i), Language: "en", Timezone: "America/Chicago",
					Channel: "sms", Programs: []string{"hypertension"}, EnrolledAt: t0,
					Medications: []store.Medication{{ID: "m", Times: []string{"08:00"}}}}
				if err := e.st.Commit(context.Background(), store.Commit{PatientID: p.ID, Patient: &p}); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range ids {
		ids[i] = fmt.Sprintf("b%d", i)
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		e.t.Fatal(err)
	default:
	}
	return ids
}

// TestFlowStarts60000: a flow start for 60,000 patients is refused at the
// default cap with a 400 naming it; with TEND_MAX_BULK raised it is a job
// (202, Location) that starts each of the 60,000 exactly once, and the same
// request again under its Idempotency-Key starts nobody.
func TestFlowStarts60000(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("60,000 turns")
	}
	const n = 60000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("b%d", i)
	}
	body := jsonOf(t, map[string]any{"flow": "med-reminder", "patients": ids})
	status, b := newEnv(t).call("POST", "/flow-starts", body) // the cap comes before any patient is read
	wantError(t, status, b, http.StatusBadRequest, "60000 patients", "the 10000", "TEND_MAX_BULK")

	e := newEnv(t)
	e.api.MaxBulk = n // before the server's first request
	e.storePatients(n)
	key := map[string]string{"Idempotency-Key": "clinic-2026-03-02"}
	res, b := e.post("/flow-starts", body, key)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	j := jobOf(t, b)
	if loc := res.Header.Get("Location"); loc != "/api/v1/jobs/"+j.ID {
		t.Errorf("Location %q, want /api/v1/jobs/%s", loc, j.ID)
	}
	if j.Kind != store.JobFlowStart || j.Total != n || j.State != store.JobRunning {
		t.Errorf("job as it begins: %+v", j)
	}
	j = e.waitJob(j.ID)
	if j.State != store.JobDone || j.Done != n || j.Skipped != 0 || j.Failed != 0 {
		t.Fatalf("job as it ended: %+v", j)
	}
	for _, id := range ids {
		if s := e.session(id); s.Flow != "med-reminder" {
			t.Fatalf("patient %s is in flow %q, want med-reminder", id, s.Flow)
		}
	}
	starts := map[string]int{}
	recs, err := e.runner.AuditRecords(context.Background(), audit.Filter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Action == audit.StartFlow {
			starts[r.Patient]++
		}
	}
	if len(starts) != n {
		t.Errorf("%d patients have a start_flow audit record, want %d", len(starts), n)
	}
	for id, n := range starts {
		if n != 1 {
			t.Fatalf("patient %s started %d times", id, n)
		}
	}
	for _, id := range ids[:200] {
		if n := len(outTexts(e.timeline(id))); n != 1 {
			t.Fatalf("patient %s has %d messages, want the one reminder", id, n)
		}
	}

	res, b = e.post("/flow-starts", body, key)
	if again := jobOf(t, b); res.StatusCode != http.StatusOK || again.ID != j.ID || again.Done != n {
		t.Errorf("the request again under its key: %d %+v, want 200 and the job as it ended", res.StatusCode, again)
	}
}

// TestFlowStartsCap: the cap counts distinct patients, and its refusal
// names it.
func TestFlowStartsCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.api.MaxBulk = 150
	ids := make([]string, 151)
	for i := range ids {
		ids[i] = fmt.Sprintf("x%d", i)
	}
	status, b := e.call("POST", "/flow-starts", jsonOf(t, map[string]any{"flow": "med-reminder", "patients": ids}))
	wantError(t, status, b, http.StatusBadRequest, "151 patients", "150", "TEND_MAX_BULK")

	ids[150] = ids[0] // 150 distinct: within the cap, a job; nobody is enrolled
	status, b = e.call("POST", "/flow-starts", jsonOf(t, map[string]any{"flow": "med-reminder", "patients": ids}))
	if status != http.StatusAccepted {
		t.Fatalf("status %d: %s", status, b)
	}
	j := e.waitJob(jobOf(t, b).ID)
	if j.Total != 150 || j.Failed != 150 || len(j.Errors) != store.MaxJobErrors || !strings.HasSuffix(j.Errors[0], `": not enrolled`) {
		t.Errorf("job %+v, want 150 failed as not enrolled, %d errors kept", j, store.MaxJobErrors)
	}
	if status, b := e.call("GET", "/jobs/nope", ""); status != http.StatusNotFound {
		t.Errorf("GET /jobs/nope: %d %s", status, b)
	}
}

// TestFlowStartsDuplicates: a repeated id is started once, and the answer
// says how many repeats it dropped; within the request (100 or fewer) and
// as a job.
func TestFlowStartsDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("one", "+15551230001"))
	status, b := e.call("POST", "/flow-starts", `{"flow":"med-reminder","patients":["one","one","one"]}`)
	if status != http.StatusAccepted {
		t.Fatalf("status %d: %s", status, b)
	}
	var got struct {
		Patients   []string `json:"patients"`
		Duplicates int      `json:"duplicates"`
	}
	json.Unmarshal(b, &got)
	if len(got.Patients) != 1 || got.Duplicates != 2 {
		t.Errorf("answer %s, want one patient and 2 duplicates", b)
	}
	if texts := outTexts(e.timeline("one")); len(texts) != 2 {
		t.Errorf("messages %q, want the welcome and one reminder", texts)
	}

	ids := e.storePatients(120)
	ids = append(ids, ids[:30]...)
	status, b = e.call("POST", "/flow-starts", jsonOf(t, map[string]any{"flow": "med-reminder", "patients": ids}))
	if status != http.StatusAccepted {
		t.Fatalf("status %d: %s", status, b)
	}
	j := jobOf(t, b)
	if j.Duplicates != 30 || j.Total != 120 {
		t.Errorf("job %+v, want 120 patients and 30 duplicates", j)
	}
	if j = e.waitJob(j.ID); j.Done != 120 {
		t.Errorf("job %+v, want 120 started", j)
	}
}

// TestEnrollBatch: POST /patients:batch takes NDJSON, enrolls the good
// lines as POST /patients would, and counts each bad line failed with its
// number and field but never its value; the batch goes on past them.
func TestEnrollBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := patient("bad-phone", "+15551239999")
	bad["phone"] = "555-not-a-number"
	badProgram := patient("bad-program", "+15551230005")
	badProgram["programs"] = []any{"oncology"}
	lines := []string{
		jsonOf(t, patient("a", "+15551230001")),
		`{"id": "broken"`,
		jsonOf(t, bad),
		"",
		jsonOf(t, patient("b", "+15551230002")),
		`{"id":"c","colour":"red"}`,
		jsonOf(t, badProgram),
		jsonOf(t, patient("c", "+15551230003")),
	}
	res, b := e.post("/patients:batch", strings.Join(lines, "\n")+"\n", map[string]string{"Content-Type": "application/x-ndjson"})
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	j := jobOf(t, b)
	if res.Header.Get("Location") != "/api/v1/jobs/"+j.ID || j.Kind != store.JobEnroll || j.Total != 7 {
		t.Errorf("answer %+v, Location %q", j, res.Header.Get("Location"))
	}
	j = e.waitJob(j.ID)
	if j.State != store.JobDone || j.Done != 3 || j.Failed != 4 {
		t.Fatalf("job %+v, want 3 done and 4 failed", j)
	}
	errs := strings.Join(j.Errors, "\n")
	for _, want := range []string{"line 2: malformed JSON", `line 3: patient "bad-phone": phone: invalid`,
		`line 6: malformed JSON: unknown field "colour"`, `line 7: patient "bad-program": programs: invalid`} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors\n%s\nlack %q", errs, want)
		}
	}
	for _, secret := range []string{"555-not-a-number", "oncology"} {
		if strings.Contains(errs, secret) {
			t.Errorf("errors quote %q:\n%s", secret, errs)
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		if status, b := e.call("GET", "/patients/"+id, ""); status != http.StatusOK {
			t.Errorf("GET /patients/%s: %d %s", id, status, b)
		}
		if texts := outTexts(e.timeline(id)); len(texts) != 1 {
			t.Errorf("patient %s: messages %q, want the welcome", id, texts)
		}
	}
	// The batch route stands apart from /patients and /patients/{id}.
	if status, _ := e.call("GET", "/patients:batch", ""); status != http.StatusMethodNotAllowed && status != http.StatusNotFound {
		t.Errorf("GET /patients:batch: %d", status)
	}
	status, b := e.call("POST", "/patients:batch", "\n\n")
	wantError(t, status, b, http.StatusBadRequest, "no enrollments")
}

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const importAbout = `FILE holds one enrollment per line (NDJSON), as POST /api/v1/patients takes it. The file
goes to a running server (POST /api/v1/patients:batch), which enrolls the patients in the
background; a progress bar on standard error follows the job until it ends, then the
failed lines are listed by number and field. The token is TEND_API_TOKEN, else the one tend
serve generated in the data dir (TEND_DATA_DIR or --data-dir)/api-token. The request's
Idempotency-Key is the file's hash (or --key): the same file again resumes a job whose
server stopped, and answers with the job as it ended once it has. Exits 1 if any line failed.`

// importFlags are tend import patients's flags.
func importFlags() (fs *flag.FlagSet, base, dataDir, key *string, every *time.Duration) {
	fs = flag.NewFlagSet("import patients", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base = fs.String("url", "http://localhost:8080", "where the server listens")
	dataDir = fs.String("data-dir", env("TEND_DATA_DIR", "./data"), "data directory holding the generated api-token (TEND_DATA_DIR)")
	key = fs.String("key", "", "the request's Idempotency-Key; none: the file's hash")
	every = fs.Duration("every", 500*time.Millisecond, "how often to ask the server for progress")
	return fs, base, dataDir, key, every
}

// importJob is what the server answers about a job.
type importJob struct {
	ID      string   `json:"id"`
	State   string   `json:"state"`
	Total   int      `json:"total"`
	Done    int      `json:"done"`
	Skipped int      `json:"skipped"`
	Failed  int      `json:"failed"`
	Errors  []string `json:"errors"`
}

// importPatients posts an NDJSON file of enrollments and follows the job.
func importPatients(args []string, stdout, stderr io.Writer) error {
	fs, base, dataDir, key, every := importFlags()
	err := fs.Parse(args)
	var file string
	if err == nil && fs.NArg() > 0 {
		file = fs.Arg(0)
		err = fs.Parse(fs.Args()[1:]) // flags may come after the file too
	}
	switch {
	case err != nil:
		return flagError(fs, err)
	case file == "":
		return usageErrorf("FILE: the NDJSON file of enrollments is required")
	case fs.NArg() > 0:
		return usageErrorf("one file at a time, got %q too", strings.Join(fs.Args(), " "))
	case *every <= 0:
		return usageErrorf("--every: a duration above 0, such as 500ms")
	}
	body, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	token, err := cliToken(*dataDir)
	if err != nil {
		return err
	}
	if *key == "" {
		sum := sha256.Sum256(body)
		*key = "file-" + hex.EncodeToString(sum[:16])
	}
	c := &apiClient{base: strings.TrimSuffix(*base, "/") + "/api/v1", token: token, http: &http.Client{Timeout: time.Minute}}
	var j importJob
	if err := c.do("POST", "/patients:batch", body, map[string]string{"Content-Type": "application/x-ndjson", "Idempotency-Key": *key}, &j); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	for j.State == "running" {
		progress(stderr, j)
		time.Sleep(*every)
		if err := c.do("GET", "/jobs/"+j.ID, nil, nil, &j); err != nil {
			fmt.Fprintln(stderr)
			return fmt.Errorf("import: job %s: %w", j.ID, err)
		}
	}
	progress(stderr, j)
	fmt.Fprintln(stderr)
	for _, e := range j.Errors {
		fmt.Fprintln(stderr, "  "+e)
	}
	if more := j.Failed - len(j.Errors); more > 0 {
		fmt.Fprintf(stderr, "  and %d more\n", more)
	}
	fmt.Fprintf(stdout, "job %s %s: %d enrolled, %d skipped, %d failed of %d\n", j.ID, j.State, j.Done, j.Skipped, j.Failed, j.Total)
	switch {
	case j.State == "interrupted":
		return fmt.Errorf("import: the server running job %s stopped; run the same command again to go on", j.ID)
	case j.Failed > 0:
		return fmt.Errorf("import: %d of %d lines failed", j.Failed, j.Total)
	}
	return nil
}

// progress draws a job's bar on one line of w (a terminal's stderr).
func progress(w io.Writer, j importJob) {
	const width = 30
	n := j.Done + j.Skipped + j.Failed
	filled := 0
	if j.Total > 0 {
		filled = min(width*n/j.Total, width)
	}
	fmt.Fprintf(w, "\r[%s%s] %d/%d  enrolled %d  skipped %d  failed %d",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), n, j.Total, j.Done, j.Skipped, j.Failed)
}

// cliToken is the API token a command uses: TEND_API_TOKEN, else the one
// tend serve generated into the data dir.
func cliToken(dataDir string) (string, error) {
	if t := os.Getenv("TEND_API_TOKEN"); t != "" {
		return t, nil
	}
	path := filepath.Join(dataDir, "api-token")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("no API token: TEND_API_TOKEN is not set and %s cannot be read (%v)", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// apiClient calls a running server's API with its bearer token.
type apiClient struct {
	base, token string
	http        *http.Client
}

// do sends a request and decodes a 2xx answer into out; any other status
// is an error carrying the server's message.
func (c *apiClient) do(method, path string, body []byte, header map[string]string, out any) error {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s (%d)", e.Error, res.StatusCode)
		}
		return errors.New(res.Status)
	}
	return json.Unmarshal(b, out)
}

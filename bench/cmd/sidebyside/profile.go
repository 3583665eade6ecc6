package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// With -profile, Tandem runs as bench/cmd/tandemprof and every workload's
// first repetition against it is wrapped in a CPU profile, written to
// OUT/profiles/CLIENT-WORKLOAD.pprof, with a `go tool pprof -top` summary
// beside it.

var profileHTTP = &http.Client{Timeout: 30 * time.Second}

func (b *bench) profileStart(s *server, client, w string, rep int) bool {
	if s.pprofAddr == "" || rep != 1 {
		return false
	}
	dir := filepath.Join(b.cfg.out, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Printf("profile: %v", err)
		return false
	}
	file, err := filepath.Abs(filepath.Join(dir, client+"-"+w+".pprof"))
	if err != nil {
		return false
	}
	if err := profileGet(s.pprofAddr, "/start?file="+url.QueryEscape(file)); err != nil {
		log.Printf("profile start: %v", err)
		return false
	}
	return true
}

func (b *bench) profileStop(s *server) {
	if err := profileGet(s.pprofAddr, "/stop"); err != nil {
		log.Printf("profile stop: %v", err)
	}
}

func profileGet(addr, path string) error {
	resp, err := profileHTTP.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// summarizeProfiles writes NAME.txt, the top of each profile by
// cumulative time, next to NAME.pprof.
func summarizeProfiles(dir, bin string) {
	profs, _ := filepath.Glob(filepath.Join(dir, "*.pprof"))
	for _, p := range profs {
		out, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=40", bin, p).CombinedOutput()
		if err != nil {
			log.Printf("pprof %s: %v", p, err)
			continue
		}
		if err := os.WriteFile(strings.TrimSuffix(p, ".pprof")+".txt", out, 0o644); err != nil {
			log.Printf("profile summary: %v", err)
		}
	}
}

// The Go net/http twin of examples/hyper_server.rs, the reference in scripts/bad_neighbour.sh:
// "/" answers hello, "/block/N" sleeps the OS thread N ms without telling the Go runtime
// (a raw nanosleep system call, like a cgo database driver; time.Sleep would park only the
// goroutine), "/spin/N" burns N ms (wall clock) of CPU with no function call that yields.
// Go preempts the spinning goroutine asynchronously every 10 ms; sysmon retakes the P from
// the thread stuck in the system call after 20 us to 10 ms.
//
//	go build -o /tmp/hello_server scripts/go/hello_server.go
//	GOMAXPROCS=2 /tmp/hello_server 127.0.0.1:18090
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const maxMs = 10000

// badMs parses N of /block/N or /spin/N: whole milliseconds, 1 to maxMs.
func badMs(w http.ResponseWriter, kind, n string) (time.Duration, bool) {
	ms, err := strconv.Atoi(n)
	if err != nil || ms < 1 || ms > maxMs {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "/%s/N: N must be a whole number of milliseconds, 1 to %d (got %q)\n", kind, maxMs, n)
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

func handler(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/block/"):
		d, ok := badMs(w, "block", strings.TrimPrefix(p, "/block/"))
		if !ok {
			return
		}
		ts := syscall.NsecToTimespec(d.Nanoseconds())
		// A raw system call: the runtime sees the thread enter the kernel, as with
		// a blocking read in a C driver.
		syscall.Nanosleep(&ts, nil)
		fmt.Fprintf(w, "blocked %d ms\n", d.Milliseconds())
	case strings.HasPrefix(p, "/spin/"):
		d, ok := badMs(w, "spin", strings.TrimPrefix(p, "/spin/"))
		if !ok {
			return
		}
		start := time.Now()
		x := uint64(0)
		for time.Since(start) < d {
			for i := uint64(0); i < 1000; i++ {
				x = x*6364136223846793005 + i
			}
		}
		fmt.Fprintf(w, "spun %d ms (%d)\n", d.Milliseconds(), x&1)
	default:
		fmt.Fprintf(w, "Hello, world! (%s %s)\n", r.Proto, p)
	}
}

func main() {
	addr := "127.0.0.1:3002"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	log.Printf("listening on http://%s", addr)
	log.Fatal(http.ListenAndServe(addr, http.HandlerFunc(handler)))
}

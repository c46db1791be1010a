// The work of examples/echo_rounds.rs on Go's runtime, for a side-by-side reference:
// 50 loopback TCP connections (Go sets TCP_NODELAY by default), one echo goroutine per
// accepted connection (io.ReadFull 64 bytes, write them back), and 50 client goroutines doing
// ROUNDS round trips each. Prints the seconds from the first round trip to the last.
//
//	go build -o /tmp/echo_rounds_go scripts/go/echo_rounds.go
//	GOMAXPROCS=2 /tmp/echo_rounds_go 4000
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

const conns = 50
const msg = 64

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: echo_rounds_go ROUNDS")
		os.Exit(2)
	}
	rounds, err := strconv.Atoi(os.Args[1])
	if err != nil || rounds < 1 {
		fmt.Fprintln(os.Stderr, "echo_rounds_go: ROUNDS must be a positive whole number")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				buf := make([]byte, msg)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}(c)
		}
	}()
	clients := make([]net.Conn, conns)
	for i := range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			panic(err)
		}
		clients[i] = c
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func(tag byte, c net.Conn) {
			defer wg.Done()
			out := make([]byte, msg)
			for j := range out {
				out[j] = tag
			}
			back := make([]byte, msg)
			for r := 0; r < rounds; r++ {
				if _, err := c.Write(out); err != nil {
					panic(err)
				}
				if _, err := io.ReadFull(c, back); err != nil {
					panic(err)
				}
			}
		}(byte(i), c)
	}
	wg.Wait()
	fmt.Printf("%.4f\n", time.Since(start).Seconds())
}

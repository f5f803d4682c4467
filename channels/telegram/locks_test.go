package telegram

import (
	"strconv"
	"sync"
	"testing"
)

// TestChatLocks: one chat's holders run one at a time, and a chat's lock
// is dropped once nobody holds or waits for it.
func TestChatLocks(t *testing.T) {
	t.Parallel()
	var c chatLocks
	var wg sync.WaitGroup
	held := make([]int, 4)
	var mu sync.Mutex
	for i := range 400 {
		wg.Go(func() {
			chat := strconv.Itoa(i % len(held))
			unlock := c.lock(chat)
			mu.Lock()
			held[i%len(held)]++
			if held[i%len(held)] > 1 {
				t.Errorf("chat %s held twice", chat)
			}
			mu.Unlock()
			mu.Lock()
			held[i%len(held)]--
			mu.Unlock()
			unlock()
		})
	}
	wg.Wait()
	if n := len(c.m); n != 0 {
		t.Fatalf("%d chat locks left after every update finished", n)
	}
}

package nettest

import (
	"net/http"
	"time"
)

// directGet fetches from the caller's own namespace.
func (*NS) directGet(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	return readAllLimited(resp.Body)
}

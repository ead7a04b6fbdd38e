package lab

import (
	"strings"
	"testing"
)

func TestLogBuffer(t *testing.T) {
	var echo strings.Builder
	b := &LogBuffer{Echo: &echo}
	for _, s := range []string{"one\n", "two\n", "three\n"} {
		if _, err := b.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.String(); got != "one\ntwo\nthree\n" || echo.String() != got {
		t.Errorf("kept %q, echoed %q", got, echo.String())
	}
	if got := b.Tail(2); got != "two\nthree" {
		t.Errorf("tail 2: %q", got)
	}
	if got := b.Tail(9); got != "one\ntwo\nthree" {
		t.Errorf("tail 9: %q", got)
	}
}

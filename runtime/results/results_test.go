package results

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestOutcomeRoundTripAndView(t *testing.T) {
	o := &Outcome{Succeeded: true, Plugins: []string{"p@abc"}, Response: &Response{Status: 201,
		Headers: []Header{{"Content-Type", "application/json"}, {"Set-Cookie", "a"}, {"Set-Cookie", "b"}},
		Body:    []byte(`{"ok":true}`)}, Hops: 2, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	enc := o.Encode(nil)
	// The response's body is the encoding's last bytes, with every other
	// field set: the log keeps them as a reference to the message's body
	// when they are that body (queue.Record.Tail, set by the worker).
	o.Raw = &Response{Status: 200, Body: []byte("raw")}
	o.Error, o.Attempts = &Error{Code: "c"}, []Attempt{{Status: 500}}
	if e := o.Encode(nil); !strings.HasSuffix(string(e), `{"ok":true}`) || !strings.HasSuffix(string(enc), `{"ok":true}`) {
		t.Fatalf("the response body is not the encoding's tail: %q", e)
	}
	o.Raw, o.Error, o.Attempts = nil, nil, nil
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.TraceID != o.TraceID || got.Hops != 2 || got.TraceParent != o.TraceParent || got.Response.Status != 201 {
		t.Fatalf("round trip: trace id %q traceparent %q hops %d", got.TraceID, got.TraceParent, got.Hops)
	}
	now := time.Now().UTC()
	v := NewView(Meta{CorrelationID: "id", Route: "r", Status: "succeeded", Attempts: 1, Created: now, Updated: now}, got)
	b, _ := json.Marshal(v)
	var m map[string]any
	json.Unmarshal(b, &m)
	resp := m["response"].(map[string]any)
	if m["trace_id"] != o.TraceID {
		t.Fatalf("view trace_id %v", m["trace_id"])
	}
	if resp["status"] != float64(201) || resp["body"] != `{"ok":true}` || resp["body_base64"] != nil {
		t.Fatalf("view response %v", resp)
	}
	if h := resp["headers"].(map[string]any); h["Set-Cookie"] != "a, b" || h["Content-Type"] != "application/json" {
		t.Fatalf("headers %v", h)
	}
	bin := NewView(Meta{}, &Outcome{Response: &Response{Status: 200, Body: []byte{0xff}}})
	if bin.Response.Body != nil || *bin.Response.BodyBase64 != "/w==" {
		t.Fatalf("binary body view %+v", bin.Response)
	}
	e := &Outcome{Error: &Error{Code: "c", Message: "m", Stage: "s", Plugin: "p"}}
	if got, err := Decode(e.Encode(nil)); err != nil || *got.Error != *e.Error || got.Response != nil || got.Succeeded {
		t.Fatalf("error outcome round trip: %+v %v", got, err)
	}
	if _, err := Decode([]byte("{")); err == nil {
		t.Fatal("decoded a malformed payload")
	}
}

func TestWaitersHammer(t *testing.T) {
	w := NewWaiters()
	const n = 1000
	chans := make([]<-chan *Outcome, n)
	for i := range n {
		chans[i] = w.Register([16]byte{byte(i), byte(i >> 8)})
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			for i := g; i < n; i += 4 {
				w.Notify([16]byte{byte(i), byte(i >> 8)}, &Outcome{Plugins: []string{string(rune(i))}})
				w.Notify([16]byte{byte(i), byte(i >> 8)}, &Outcome{}) // a second notify is dropped
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	for i, ch := range chans {
		if o := <-ch; len(o.Plugins) != 1 || o.Plugins[0] != string(rune(i)) {
			t.Fatalf("waiter %d got %+v", i, o)
		}
	}
}

func TestWaitersSeveralPerID(t *testing.T) {
	w := NewWaiters()
	id := [16]byte{1}
	a, b, gone := w.Register(id), w.Register(id), w.Register(id)
	w.Cancel(id, gone)
	w.Notify(id, &Outcome{Succeeded: true})
	for _, ch := range []<-chan *Outcome{a, b} {
		if o := <-ch; !o.Succeeded {
			t.Fatal("a waiter missed the outcome")
		}
	}
	select {
	case <-gone:
		t.Fatal("a cancelled waiter was notified")
	default:
	}
	if len(w.m) != 0 {
		t.Fatalf("registrations left: %v", w.m)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add((&Outcome{Succeeded: true, Plugins: []string{"a"}, Response: &Response{Status: 200, Body: []byte("x")}}).Encode(nil))
	f.Add((&Outcome{Error: &Error{Code: "c"}}).Encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := Decode(b)
		if err != nil {
			return
		}
		if _, err := Decode(o.Encode(nil)); err != nil {
			t.Fatalf("re-encoding a decoded outcome fails: %v", err)
		}
	})
}

func TestViewRetrying(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	as := []Attempt{
		{At: at, Status: 500, Latency: 3 * time.Millisecond, Code: CodeDestinationFailed, Message: "the destination answered 500"},
		{At: at.Add(time.Second), Code: "destination_timeout", Message: "no answer within 5s"},
	}
	next := at.Add(3 * time.Second).In(time.FixedZone("x", 3600))
	v := NewView(Meta{CorrelationID: "c", Route: "r", Status: "retrying", Attempts: 2}, nil)
	v.Retrying(as, next)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"status":"retrying"`, `"attempts":2`,
		`"error":{"code":"destination_timeout","message":"no answer within 5s","stage":"dispatch"}`,
		`"attempt_log":[{"at":"2026-01-02T03:04:05Z","status":500,"latency_ms":3,"error":{"code":"destination_failed","message":"the destination answered 500"}},{"at":"2026-01-02T03:04:06Z","latency_ms":0,"error":{"code":"destination_timeout","message":"no answer within 5s"}}]`,
		`"next_attempt_at":"2026-01-02T03:04:08Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("view %s\nlacks %s", b, want)
		}
	}
	v = NewView(Meta{Status: "retrying"}, nil)
	v.Retrying(as[:1], time.Time{}) // the next attempt is being made
	if v.NextAttemptAt != nil || v.Error == nil || v.Error.Code != CodeDestinationFailed {
		t.Fatalf("while the next attempt runs: %+v", v)
	}
}

package ingress

import "testing"

func TestJSONPointer(t *testing.T) {
	doc := []byte(`{"customer":{"id":42,"name":"Ada"},"items":[{"sku":"X"}],"a/b":"slash","m~n":"tilde","ok":true}`)
	for _, tc := range []struct {
		ptr, want string
		ok        bool
	}{
		{"/customer/id", "42", true},
		{"/customer/name", "Ada", true},
		{"/items/0/sku", "X", true},
		{"/a~1b", "slash", true},
		{"/m~0n", "tilde", true},
		{"/ok", "true", true},
		{"/customer", `{"id":42,"name":"Ada"}`, true},
		{"/items/1/sku", "", false},
		{"/items/01", "", false},
		{"/nope", "", false},
		{"/customer/id/x", "", false},
	} {
		got, ok := jsonPointer(doc, tc.ptr)
		if got != tc.want || ok != tc.ok {
			t.Errorf("jsonPointer(%q) = %q, %v; want %q, %v", tc.ptr, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := jsonPointer([]byte("not json"), "/a"); ok {
		t.Error("resolved a pointer in a non-JSON body")
	}
}

func FuzzJSONPointer(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,2]}}`), "/a/b/1")
	f.Add([]byte(`[]`), "/0")
	f.Fuzz(func(t *testing.T, doc []byte, ptr string) {
		if len(ptr) == 0 || ptr[0] != '/' {
			return
		}
		jsonPointer(doc, ptr) // must not panic
	})
}

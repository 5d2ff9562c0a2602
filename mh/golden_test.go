package mh

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// Golden-vector harness shared by every option and message test.
//
// A golden case is {name, typed value, wire octets annotated field by
// field}. checkOptionGolden and checkMessageGolden run the four checks of
// the go-gtp style: the value marshals to the octets, MarshalLen equals
// their length, the typed parser returns the value, and the generic
// dispatcher (ParseOption / Parse) returns the same thing.

// hexBytes turns an annotated hex dump into octets: everything after "//"
// on a line is a comment, white space is ignored.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad golden hex: %v", err)
	}
	return b
}

func checkOptionGolden(t *testing.T, want Option, wire []byte) {
	t.Helper()
	if n := want.MarshalLen(); n != len(wire) {
		t.Errorf("MarshalLen = %d, want %d", n, len(wire))
	}
	got := make([]byte, len(wire))
	if err := want.MarshalTo(got); err != nil {
		t.Fatalf("MarshalTo: %v", err)
	}
	if !bytes.Equal(got, wire) {
		t.Errorf("MarshalTo:\n got % x\nwant % x", got, wire)
	}
	if err := want.MarshalTo(make([]byte, len(wire)-1)); err == nil {
		t.Errorf("MarshalTo into a buffer one octet short succeeded")
	}
	parsed, err := ParseOption(wire)
	if err != nil {
		t.Fatalf("ParseOption: %v", err)
	}
	if !reflect.DeepEqual(normOpt(parsed), normOpt(want)) {
		t.Errorf("ParseOption:\n got %#v\nwant %#v", parsed, want)
	}
	fresh := NewOption(want.OptionType())
	if reflect.TypeOf(fresh) != reflect.TypeOf(want) {
		t.Errorf("NewOption(%d) is %T, want %T", want.OptionType(), fresh, want)
	}
	for i := 0; i < len(wire); i++ { // every truncation is an error, never a panic
		if err := NewOption(want.OptionType()).UnmarshalBinary(wire[:i]); err == nil && want.OptionType() != OptPad1 {
			t.Errorf("UnmarshalBinary of the first %d octets succeeded", i)
		}
	}
}

// normOpt makes nil and empty byte slices compare equal.
func normOpt(o Option) Option {
	v := reflect.ValueOf(o)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return o
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	normBytes(c.Elem())
	return c.Interface().(Option)
}

func normBytes(v reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch {
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Uint8 && f.Len() == 0:
			f.Set(reflect.Zero(f.Type()))
		case f.Kind() == reflect.Struct:
			normBytes(f)
		}
	}
}

// checkMessageGolden checks a hand-built message (KeepLayout false, no
// padding options) against its wire octets.
func checkMessageGolden(t *testing.T, want Message, wire []byte) {
	t.Helper()
	if n := want.MarshalLen(); n != len(wire) {
		t.Errorf("MarshalLen = %d, want %d", n, len(wire))
	}
	got, err := want.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if !bytes.Equal(got, wire) {
		t.Errorf("Marshal:\n got % x\nwant % x", got, wire)
	}
	if err := want.MarshalTo(make([]byte, len(wire)-1)); err == nil {
		t.Errorf("MarshalTo into a buffer one octet short succeeded")
	}
	parsed, err := Parse(wire)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if reflect.TypeOf(parsed) != reflect.TypeOf(want) {
		t.Fatalf("Parse returned %T, want %T", parsed, want)
	}
	typed := reflect.New(reflect.TypeOf(want).Elem()).Interface().(Message)
	if err := typed.UnmarshalBinary(wire); err != nil {
		t.Fatalf("UnmarshalBinary: %v", err)
	}
	for _, m := range []Message{parsed, typed} {
		if !reflect.DeepEqual(comparable(m), comparable(want)) {
			t.Errorf("decoded:\n got %+v\nwant %+v", comparable(m), comparable(want))
		}
		again, err := m.Marshal()
		if err != nil || !bytes.Equal(again, wire) {
			t.Errorf("re-encoding the decoded message: %v\n got % x\nwant % x", err, again, wire)
		}
	}
	for i := 0; i < len(wire); i++ {
		if _, err := Parse(wire[:i]); err == nil {
			t.Errorf("Parse of the first %d octets succeeded", i)
		}
	}
}

// comparable returns a copy of m with the layout-only state (padding
// options, KeepLayout, the received Header Len) cleared and byte slices
// normalised, so that a decoded message compares with a hand-built one.
func comparable(m Message) Message {
	v := reflect.ValueOf(m).Elem()
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	cm := c.Interface().(Message)
	b := cm.MHBase()
	var opts Options
	for _, o := range b.Options {
		if !isPad(o) {
			opts = append(opts, normOpt(o))
		}
	}
	b.Options = opts
	b.KeepLayout = false
	b.HeaderLen = 0
	if b.PayloadProto == IPProtoNone {
		b.PayloadProto = 0
	}
	normBytes(c.Elem())
	return cm
}

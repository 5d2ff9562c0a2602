package fixturegen

import (
	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/pmipdmm/pmipdmm/mh/mhjson"
)

// view returns the JSON view of a decoded message (package mhjson).
func view(m mh.Message, wire []byte) (any, error) { return mhjson.Message(m, wire) }

module github.com/pmipdmm/pmipdmm

go 1.26.8

module github.com/logjar/logjar/bindings/go

go 1.22

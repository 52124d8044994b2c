module github.com/gcache-go/gcache/e2e

go 1.26.0

require (
	github.com/dave/jennifer v1.7.1 // indirect
	github.com/gcache-go/gcache v0.0.0 // indirect
	golang.org/x/mod v0.42.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/tools v0.52.0 // indirect
)

replace github.com/gcache-go/gcache => ../

tool github.com/gcache-go/gcache/cmd/gcachegen

//go:build cgo && !fuzzcover

package format

// coverFeed is a no-op without the fuzzcover build tag (see cgo_cover.go).
func coverFeed() {}

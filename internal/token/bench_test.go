package token

import (
	"testing"
	"time"
)

var benchOptions = Options{
	Role:                   RoleModerator,
	Data:                   `{"name":"Bob","userId":42}`,
	InitialLayoutClassList: []string{"focus", "big"},
}

func benchVerify(b *testing.B, mint func(string, string, string, Options) (string, error)) {
	o := benchOptions
	o.Now = t0
	tok, err := mint(keyA, secretA, sidA, o)
	if err != nil {
		b.Fatal(err)
	}
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(tok, sidA, lookup, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyJWT(b *testing.B) { benchVerify(b, MintJWT) }

func BenchmarkVerifyT1(b *testing.B) { benchVerify(b, MintT1) }

func BenchmarkMintJWT(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MintJWT(keyA, secretA, sidA, benchOptions); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMintT1(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MintT1(keyA, secretA, sidA, benchOptions); err != nil {
			b.Fatal(err)
		}
	}
}

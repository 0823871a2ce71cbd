package meet

import (
	"crypto/rand"
	"math/big"
	"regexp"
)

// Room names are three words from these lists ("calm-river-lamp"): easy to
// read aloud, about 2.6 million of them.
var (
	adjectives = []string{
		"amber", "bold", "brave", "bright", "brisk", "calm", "clear", "clever", "cool", "cosy",
		"crisp", "curly", "dapper", "deep", "eager", "early", "easy", "fair", "fancy", "fast",
		"fresh", "frosty", "gentle", "glad", "golden", "grand", "green", "happy", "hazy", "honest",
		"jolly", "keen", "kind", "late", "lively", "lucky", "mellow", "merry", "mild", "misty",
		"modest", "neat", "nimble", "noble", "odd", "olive", "pale", "plain", "polite", "proud",
		"quick", "quiet", "rapid", "rosy", "royal", "rustic", "shiny", "silent", "silver", "simple",
		"sleek", "slow", "smart", "snowy", "soft", "solid", "sunny", "sweet", "swift", "tall",
		"tender", "tidy", "tiny", "urban", "vivid", "warm", "wild", "windy", "wise", "witty",
	}
	nouns = []string{
		"acorn", "anchor", "apple", "arrow", "badger", "bay", "beacon", "bear", "birch", "bloom",
		"breeze", "brook", "cabin", "canyon", "cedar", "cliff", "cloud", "comet", "coral", "creek",
		"dawn", "delta", "dune", "eagle", "ember", "falcon", "fern", "field", "fjord", "flame",
		"forest", "fox", "garden", "glacier", "grove", "harbor", "hawk", "hill", "island", "lake",
		"lamp", "leaf", "lily", "maple", "meadow", "moon", "moss", "night", "oak", "ocean",
		"orchid", "otter", "owl", "panda", "pebble", "pine", "planet", "pond", "prairie", "rain",
		"raven", "reef", "ridge", "river", "robin", "rock", "sea", "shadow", "shore", "sky",
		"snow", "sparrow", "spring", "star", "stone", "storm", "stream", "summit", "sun", "thunder",
		"tiger", "trail", "tree", "valley", "wave", "willow", "wind", "wolf", "wood", "zephyr",
	}
)

// NewRoomName draws a readable room name with crypto/rand.
func NewRoomName() string {
	return pick(adjectives) + "-" + pick(nouns) + "-" + pick(nouns)
}

func pick(words []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
	if err != nil {
		panic("meet: crypto/rand failed: " + err.Error())
	}
	return words[n.Int64()]
}

// MaxRoomName bounds a room name's length.
const MaxRoomName = 64

var roomName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// ValidRoomName says whether name can name a room: lower-case letters,
// digits and inner dashes, at most MaxRoomName characters.
func ValidRoomName(name string) bool {
	return len(name) <= MaxRoomName && roomName.MatchString(name)
}

package workspaces

import "math/rand/v2"

func defaultRand() float64 { return rand.Float64() }

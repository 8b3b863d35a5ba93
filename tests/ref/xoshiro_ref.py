"""xoshiro_ref.py: the reference values of tests/unit/test_sampler.c's PRNG test.

xoshiro256** (Blackman & Vigna, https://prng.di.unimi.it/xoshiro256starstar.c) seeded with
four successive outputs of splitmix64 (https://prng.di.unimi.it/splitmix64.c), written here
independently in Python integers. Prints the first outputs for a few seeds as C literals.
"""
M = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return state, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


def xoshiro(seed, n):
    x, s = seed, []
    for _ in range(4):
        x, v = splitmix64(x)
        s.append(v)
    out = []
    for _ in range(n):
        out.append((rotl((s[1] * 5) & M, 7) * 9) & M)
        t = (s[1] << 17) & M
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


if __name__ == "__main__":
    print("splitmix64(0) first output: 0x%016xull" % splitmix64(0)[1])
    for seed in (0, 42, 0xFFFFFFFFFFFFFFFF):
        print("seed %d:" % seed, ", ".join("0x%016xull" % v for v in xoshiro(seed, 5)))
    print("uniform seed 42:", [(v >> 11) * 2.0 ** -53 for v in xoshiro(42, 3)])

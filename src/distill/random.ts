/** Seeded randomness for the engine: timesteps and Gaussian noise, reproducible from one seed (docs/algorithm.md §5, §10.4). */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';

const TWO_POW_31 = 2 ** 31;

export interface Random {
  /** Uniform integer in [min, max], both included. */
  integer(min: number, max: number): number;
  /** Fills `out` with independent N(0, 1) samples. */
  fillNormal(out: Float32Array): Float32Array;
}

/** xoroshiro128+ from one seed: t ~ U{min…max} and ε ~ N(0, I) (docs/algorithm.md §10.4). */
export function seededRandom(seed: number): Random {
  const rng = xoroshiro128plus(seed);
  // Marsaglia's polar method on 32-bit uniforms in [-1, 1): no sin/cos, and 32 bits are plenty
  // for float32 noise. It runs on every latent element every iteration, so speed matters here.
  const fillNormal = (out: Float32Array) => {
    for (let i = 0; i < out.length; ) {
      let u: number;
      let v: number;
      let s: number;
      do {
        u = (rng.next() >>> 0) / TWO_POW_31 - 1;
        v = (rng.next() >>> 0) / TWO_POW_31 - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const scale = Math.sqrt((-2 * Math.log(s)) / s);
      out[i++] = u * scale;
      if (i < out.length) out[i++] = v * scale;
    }
    return out;
  };
  return {
    integer: (min, max) => min + Math.floor(uniformFloat64(rng) * (max - min + 1)),
    fillNormal,
  };
}

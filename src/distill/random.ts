/** Seeded randomness for the engine: timesteps and Gaussian noise, reproducible from one seed. */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';

export interface Random {
  /** Uniform integer in [min, max], both included. */
  integer(min: number, max: number): number;
  /** Fills `out` with independent N(0, 1) samples. */
  fillNormal(out: Float32Array): Float32Array;
}

export function seededRandom(seed: number): Random {
  const rng = xoroshiro128plus(seed);
  // Box–Muller; 1 − u keeps the logarithm's argument in (0, 1].
  const fillNormal = (out: Float32Array) => {
    for (let i = 0; i < out.length; i += 2) {
      const radius = Math.sqrt(-2 * Math.log(1 - uniformFloat64(rng)));
      const angle = 2 * Math.PI * uniformFloat64(rng);
      out[i] = radius * Math.cos(angle);
      if (i + 1 < out.length) out[i + 1] = radius * Math.sin(angle);
    }
    return out;
  };
  return {
    integer: (min, max) => min + Math.floor(uniformFloat64(rng) * (max - min + 1)),
    fillNormal,
  };
}

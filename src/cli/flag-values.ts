/**
 * Reading option values a person typed (or set in the environment): every bad value is a
 * GasError 'bad_input' that names the option and the value, so config mistakes read alike.
 */
import { GasError } from '../errors.js';

/** A whole number in [min, max]; undefined stays undefined (the caller's default applies). */
export function wholeNumber(value: string | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new GasError('bad_input', `${name} must be a whole number ${range} (got "${value}").`);
  }
  return n;
}

/** A number strictly between 0 and 1. */
export function probability(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? NaN : Number(value);
  if (!(n > 0 && n < 1)) throw new GasError('bad_input', `${name} must be a number between 0 and 1 (got "${value}").`);
  return n;
}

export function oneOf<T extends string>(value: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new GasError('bad_input', `${name} must be one of ${allowed.join(', ')} (got "${value}").`);
  return value as T;
}

/** A name or id that must say something: "" or spaces are refused rather than stored. */
export function nonEmpty(value: string | undefined, name: string, example: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new GasError('bad_input', `${name} is empty: give it a value, e.g. ${name.startsWith('-') ? `${name} ${example}` : `${name}=${example}`}, or leave it out.`);
  return value;
}

/** How a message names an option: "--max-side" by default; the program names "GAS_STEPS" when the value came from there. */
export type NameOf = (key: string) => string;

export const flagName: NameOf = (key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The highest TCP port, for --ops-port. */
export const MAX_PORT = 65_535;
